/// How long one channel open takes on a session, as its pump sees it: the time between
/// two grants of the open slot while others were waiting (the slot passes on the moment
/// an open ends), and the age of the open in flight (an open stuck on a silent target
/// has no completed sample to show). A value type fed by the pump, read by the
/// forward's lane decisions (`LanePolicy`).
struct OpenPace {
    /// The newest sample weighs 1/4 in the running mean: a few opens settle it, one slow
    /// open among a burst of fast ones does not decide it alone.
    static let newSampleShift: UInt64 = 2

    /// Running mean of completed opens' times, ns; 0 until one was measured.
    private(set) var meanNs: UInt64 = 0
    private var lastGrantNs: UInt64 = 0
    private var backlogAtLastGrant = false

    /// The open slot was granted at `now`; `stillWaiting` opens queue behind it. The time
    /// since the previous grant is one open's time only if that grant left a queue (the
    /// slot then passed on as soon as the open ended); after an idle gap it is not.
    mutating func onGrant(now: UInt64, stillWaiting: Int) {
        if backlogAtLastGrant, now > lastGrantNs {
            let sample = now - lastGrantNs
            meanNs = meanNs == 0 ? sample : meanNs - (meanNs >> Self.newSampleShift) + (sample >> Self.newSampleShift)
        }
        lastGrantNs = now
        backlogAtLastGrant = stillWaiting > 0
    }

    /// True while the last grant left others waiting: the next grant then measures an open.
    var measuring: Bool { backlogAtLastGrant }

    /// The queue emptied without a grant (its clients left, or moved to another session):
    /// the next grant comes after an idle gap and measures nothing.
    mutating func onQueueEmptied() { backlogAtLastGrant = false }

    /// How long the open in flight has taken so far at `now` (0 when none is).
    func inFlightAgeNs(now: UInt64, openInFlight: Bool) -> UInt64 {
        openInFlight && now > lastGrantNs ? now - lastGrantNs : 0
    }
}
