import CLinuxSys

/// The process's open-file limit. One fd per HTTP client, SSH session and tunnel
/// client: raise the soft limit to the hard one at start (nginx's worker_rlimit_nofile).
public enum FileLimit {
    @discardableResult
    public static func raiseToHardLimit() -> Int { csys_raise_nofile() }
}
