import Glibc

/// `auto_open`: opens a URL in the desktop browser with xdg-open, only when a desktop
/// session is present (DISPLAY or WAYLAND_DISPLAY); never fails the request.
enum DesktopBrowser {
    static func open(_ url: String) {
        guard getenv("DISPLAY") != nil || getenv("WAYLAND_DISPLAY") != nil,
              access("/usr/bin/xdg-open", X_OK) == 0 else { return }
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/usr/bin/xdg-open"), strdup(url), nil]
        defer { argv.forEach { free($0) } }
        // SIGCHLD is ignored process-wide (Daemon), so the kernel reaps it.
        _ = posix_spawn(&pid, "/usr/bin/xdg-open", nil, nil, argv, environ)
    }
}
