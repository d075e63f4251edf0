import Reactor

/// The limits and timeouts of the HTTP server; every one comes from config/rviewer.json.
public struct HTTPLimits: Sendable {
    /// Request line + all header bytes. 16 KiB: Node's default max header size
    /// (`--max-http-header-size`); our JSON API never needs more.
    public var maxHeadBytes = 16 * 1024
    /// Header lines per request (notes §2.4 suggests <= 100 for a JSON API).
    public var maxHeaderCount = 100
    /// Request bodies: JSON parameters only, 1 MiB is far above any real request.
    public var maxBodyBytes = 1024 * 1024
    /// A request (head and body) must arrive within this after its first byte, and the
    /// first request within this after accept: the slow-client guard (Node's
    /// headersTimeout is 60 s; nginx's client_header_timeout 60 s; we serve loopback).
    public var requestTimeoutMs = 10_000
    /// An idle keep-alive connection is closed after this (nginx keepalive_timeout 75 s,
    /// Node 5 s; REST clients reuse connections within seconds).
    public var idleTimeoutMs = 30_000
    /// After a response that closes the connection, unread input is discarded for at most
    /// this long so the client reads the response before the close (nginx lingering_time).
    public var lingerTimeoutMs = 2_000
    /// Graceful shutdown waits this long for responses in flight (nginx's shutdown timer).
    public var shutdownGraceMs = 5_000
    /// A connection whose unsent output passes this stops being read until it drains
    /// below `outputLowWatermark` (SwiftNIO's default watermarks, 64/32 KiB).
    public var outputHighWatermark = 64 * 1024
    public var outputLowWatermark = 32 * 1024
    /// Unsent bytes a stream (Server-Sent Events) may pile up before its reader is cut
    /// off as too slow: 1 MiB is thousands of events, far beyond a console's burst; the
    /// client's EventSource reconnects and starts again from the current state.
    public var streamOutputLimit = 1024 * 1024
    /// Concurrent HTTP connections; past it new ones are closed at once.
    public var maxConnections = 10_000

    public init() {}
}
