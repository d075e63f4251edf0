import HTTP1
import Reactor
import Remote

/// The live events of `GET /api/events` (Server-Sent Events; decisions.md, "Front
/// door"): each stream gets the current state, one event per object, then the changes.
/// A change is encoded once for every stream, and compared with what the streams were
/// last sent: an object that did not change sends nothing. Idle streams cost a socket
/// and a dictionary entry; no timer runs while none is open.
final class EventStreams {
    /// A comment every 15 s (the contract) keeps idle streams and anything between alive.
    static let keepaliveMs = 15_000
    /// Forward counters are read again this often while a stream is open (the contract:
    /// counters at most once a second); it also catches any change not reported.
    static let counterTickMs = 1_000
    /// How long EventSource waits before reconnecting after the stream ends.
    static let retryMs = 2_000

    private unowned let loop: EventLoop
    private let registry: ConnectionRegistry
    private var streams: [ObjectIdentifier: HTTPStream] = [:]
    /// What every open stream has been sent, as of the last broadcast.
    private var sent = EventSnapshot()
    private lazy var keepalive: Reactor.Timer = loop.makeTimer { [unowned self] in
        self.broadcast(Array(": keepalive\n\n".utf8))
        self.loop.arm(self.keepalive, after: .milliseconds(Self.keepaliveMs))
    }
    private lazy var tick: Reactor.Timer = loop.makeTimer { [unowned self] in
        self.publishChanges()
        self.loop.arm(self.tick, after: .milliseconds(Self.counterTickMs))
    }

    init(loop: EventLoop, registry: ConnectionRegistry) {
        self.loop = loop
        self.registry = registry
        registry.onChange = { [weak self] in self?.publishChanges() }
    }

    var count: Int { streams.count }

    /// A new stream: its response carries the current state as its first piece.
    func open() -> HTTPResponse {
        if !streams.isEmpty { publishChanges() }   // the others catch up first
        let current = EventSnapshot(registry)
        if streams.isEmpty {
            sent = current
            loop.arm(keepalive, after: .milliseconds(Self.keepaliveMs))
            loop.arm(tick, after: .milliseconds(Self.counterTickMs))
        }
        let stream = HTTPStream()
        let key = ObjectIdentifier(stream)
        streams[key] = stream
        stream.onClose = { [weak self] in self?.closed(key) }
        var body = Array("retry: \(Self.retryMs)\n\n".utf8)
        for event in EventSnapshot().changes(to: current) { event.append(to: &body) }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/event-stream; charset=utf-8"),
                                                   ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no")],
                            body: body, stream: stream)
    }

    private func closed(_ key: ObjectIdentifier) {
        streams[key] = nil
        if streams.isEmpty {
            loop.disarm(keepalive)
            loop.disarm(tick)
        }
    }

    /// Sends every stream what changed since the last broadcast.
    private func publishChanges() {
        guard !streams.isEmpty else { return }
        let current = EventSnapshot(registry)
        let events = sent.changes(to: current)
        sent = current
        guard !events.isEmpty else { return }
        var bytes: [UInt8] = []
        for event in events { event.append(to: &bytes) }
        broadcast(bytes)
    }

    private func broadcast(_ bytes: [UInt8]) {
        for stream in Array(streams.values) { stream.send(bytes) }
    }
}

/// One Server-Sent Event: its name and its one-line JSON data.
struct ServerEvent: Equatable {
    var name: String
    var data: [UInt8]

    func append(to out: inout [UInt8]) {
        out.appendUTF8("event: \(name)\ndata: ")
        out.append(contentsOf: data)   // JSON escapes every line break: one data line
        out.appendUTF8("\n\n")
    }
}

/// What the events show of the registry at one moment, encoded, in the API's order.
struct EventSnapshot {
    var connections: [(id: String, json: [UInt8])] = []
    /// Per connection that has a viewer: the event's data, and what decides whether it
    /// changed (the same without the uptime, which changes every second by itself).
    var viewers: [String: (data: [UInt8], key: [UInt8])] = [:]
    var forwards: [(id: String, json: [UInt8])] = []

    init() {}

    init(_ registry: ConnectionRegistry) {
        for c in registry.all {
            connections.append((c.id, ConnectionSummary(c).json.encoded()))
            if let viewer = c.viewer {
                let status = RemoteAPI.viewerStatus(viewer, health: viewer.health(checks: nil), now: registry.now)
                viewers[c.id] = (Self.viewerEvent(c.id, status).encoded(),
                                 Self.viewerEvent(c.id, status.replacing("uptime_seconds", with: .int(0))).encoded())
            }
            for f in c.forwards { forwards.append((f.id, RemoteAPI.json(f).encoded())) }
        }
    }

    static func viewerEvent(_ connectionID: String, _ viewer: JSON) -> JSON {
        .object([("connection_id", .string(connectionID)), ("viewer", viewer)])
    }

    /// The events that take a reader from `self` to `next`: changed or new connections
    /// (each followed by its viewer when that changed), changed or new forwards, then
    /// what went away: forwards, then connections.
    func changes(to next: EventSnapshot) -> [ServerEvent] {
        var events: [ServerEvent] = []
        let oldConnections = Dictionary(connections.map { ($0.id, $0.json) }, uniquingKeysWith: { a, _ in a })
        for (id, json) in next.connections {
            if oldConnections[id] != json { events.append(ServerEvent(name: "connection", data: json)) }
            switch (viewers[id], next.viewers[id]) {
            case (let old, let new?) where old?.key != new.key:
                events.append(ServerEvent(name: "viewer", data: new.data))
            case (.some, nil):   // the viewer went: it reads as stopped
                let stopped = Self.viewerEvent(id, RemoteAPI.viewerStatus(nil, health: "unknown", now: 0))
                events.append(ServerEvent(name: "viewer", data: stopped.encoded()))
            default: break
            }
        }
        let oldForwards = Dictionary(forwards.map { ($0.id, $0.json) }, uniquingKeysWith: { a, _ in a })
        for (id, json) in next.forwards where oldForwards[id] != json {
            events.append(ServerEvent(name: "forward", data: json))
        }
        let nextForwards = Set(next.forwards.map(\.id)), nextConnections = Set(next.connections.map(\.id))
        for (id, _) in forwards where !nextForwards.contains(id) { events.append(Self.removed("forward", id)) }
        for (id, _) in connections where !nextConnections.contains(id) { events.append(Self.removed("connection", id)) }
        return events
    }

    static func removed(_ kind: String, _ id: String) -> ServerEvent {
        ServerEvent(name: "removed", data: JSON.object([("kind", .string(kind)), ("id", .string(id))]).encoded())
    }
}

extension JSON {
    /// The same object with `key`'s value replaced (other values unchanged).
    func replacing(_ key: String, with value: JSON) -> JSON {
        guard case .object(let members) = self else { return self }
        return .object(members.map { $0.0 == key ? ($0.0, value) : $0 })
    }
}

extension RemoteAPI {
    /// `GET /api/events`: the live event stream.
    public func addEventsEndpoint(loop: EventLoop, registry: ConnectionRegistry) {
        let streams = EventStreams(loop: loop, registry: registry)
        eventStreamCount = { streams.count }
        add("GET", "/api/events") { call in call.reply(streams.open()) }
    }
}
