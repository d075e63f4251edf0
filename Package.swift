// swift-tools-version:6.0
import PackageDescription

// Modules mirror the architecture and point down:
//   rviewer (executable: wiring, config) -> RemoteAPI -> HTTP1 -> Reactor -> CLinuxSys
//   C shims: CLinuxSys (epoll & co.), CLLHTTP (llhttp), CLibSSH2 (libssh2).
let package = Package(
    name: "rviewer",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rviewer", targets: ["rviewer"]),
        // For Benchmarks/Micro (package-benchmark lives there, out of the main build).
        .library(name: "RViewerKit", targets: ["Reactor", "HTTP1", "SSH", "Remote", "RemoteAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(name: "CLinuxSys"),
        // AES-CTR keystream cache under libssh2 1.10's block-at-a-time crypto (see FastCTR.c).
        .target(name: "CFastCTR", linkerSettings: [.linkedLibrary("crypto")]),
        // Keyed-MAC cache under libssh2's HMAC calls (see FastHMAC.c).
        .target(name: "CFastHMAC", linkerSettings: [.linkedLibrary("crypto")]),
        // Small RAND_bytes calls (libssh2's packet padding) from a buffer (see RandomBuffer.c).
        .target(name: "CRandomBuffer", linkerSettings: [.linkedLibrary("crypto")]),
        // RSA user keys signed with SHA-2 for libssh2 1.10 (key files and the agent; see SSHKeys.h).
        .target(name: "CSSHKeys", linkerSettings: [.linkedLibrary("crypto")]),
        .systemLibrary(name: "CLLHTTP", pkgConfig: "libllhttp",
                       providers: [.apt(["libllhttp-dev"])]),
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2",
                       providers: [.apt(["libssh2-1-dev"])]),
        .target(name: "Reactor", dependencies: ["CLinuxSys"]),
        .target(name: "HTTP1", dependencies: ["Reactor", "CLLHTTP", "CLinuxSys"]),
        .target(name: "SSH", dependencies: ["Reactor", "CLibSSH2", "CFastCTR", "CFastHMAC", "CRandomBuffer", "CSSHKeys"]),
        .target(name: "Remote", dependencies: ["SSH", "Reactor"]),
        // Console/: the web console's files, built in as ConsoleAssets.swift by the EmbedConsole plugin.
        .target(name: "RemoteAPI", dependencies: ["HTTP1", "Remote"], exclude: ["Console"], plugins: ["EmbedConsole"]),
        .executableTarget(name: "ConsoleEmbedder"),
        .plugin(name: "EmbedConsole", capability: .buildTool(), dependencies: ["ConsoleEmbedder"], path: "Sources/EmbedConsolePlugin"),
        .executableTarget(name: "rviewer", dependencies: [
            "Remote", "SSH",
            "RemoteAPI", "HTTP1", "Reactor", "CLibSSH2", "CLinuxSys", "CFastCTR", "CFastHMAC", "CRandomBuffer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "HTTP1Tests", dependencies: ["HTTP1"]),
        .testTarget(name: "RemoteAPITests", dependencies: ["RemoteAPI", "HTTP1", "Remote", "SSH"]),
        .testTarget(name: "SSHTests", dependencies: ["SSH", "CFastCTR", "CFastHMAC", "CRandomBuffer", "CSSHKeys"]),
        .testTarget(name: "IntegrationTests", dependencies: ["rviewer", "CFastCTR", "CFastHMAC", "CRandomBuffer"]),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets, one per parser (Tests/Fuzz/<name>/main.swift), declared only for
// `make fuzz` (scripts/fuzz.sh sets RVIEWER_FUZZ and builds them with ASan and
// coverage into .build-fuzz).
let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
    ("HTTP", ["HTTP1"]), ("Router", ["HTTP1", "RemoteAPI"]), ("JSON", ["RemoteAPI"]), ("SSHConfig", ["SSH"]),
    ("KnownHosts", ["SSH"]), ("Ledger", ["Remote"]), ("Detection", ["Remote"]), ("KeyFile", ["SSH"]),
]
if Context.environment["RVIEWER_FUZZ"] != nil {
    // Every module is built with ASan and coverage (scripts/fuzz.sh's flags); only these
    // link libFuzzer, so the build's other executables (the console embedder) stay whole.
    package.targets.append(.target(name: "FuzzSupport", path: "Tests/Fuzz/Support"))
    for target in fuzzTargets {
        package.targets.append(.executableTarget(name: "Fuzz\(target.name)", dependencies: target.dependencies + ["FuzzSupport"],
                                                 path: "Tests/Fuzz/\(target.name)", exclude: ["corpus"],
                                                 swiftSettings: [.unsafeFlags(["-parse-as-library"])],
                                                 linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]))
    }
}
