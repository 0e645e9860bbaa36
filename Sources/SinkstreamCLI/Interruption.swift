#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Turns the first SIGINT/SIGTERM into a polite stop request (the run checkpoints and pauses);
/// a second one terminates at once.
enum Interruption {
    private static let requested = Atomic<Int32>(0)

    static func install() {
        // A file-size limit must fail the write (and pause the run), not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let handler: @convention(c) (Int32) -> Void = { signal in
            if Interruption.requested.exchange(signal, ordering: .relaxed) != 0 {
                _exit(128 + signal)
            }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked; a run must still stop cleanly.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Whether a stop was requested.
    static var isRequested: Bool { requested.load(ordering: .relaxed) != 0 }
}
