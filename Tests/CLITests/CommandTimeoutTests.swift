import Foundation
import Testing
import TestSupport

/// The tests' command runner must not let a hung command hang the test run.
@Suite("Fixtures.run deadlines")
struct CommandTimeoutTests {
    @Test("A command still running at its deadline is killed and the call throws, naming it")
    func hungCommandIsKilled() throws {
        let start = Date()
        do {
            _ = try Fixtures.run("/bin/sh", ["-c", "echo started >&2; exec sleep 60"], timeout: 1)
            Issue.record("a command sleeping 60 s returned within its 1 s deadline")
        } catch let error as CommandTimedOut {
            #expect(error.description.contains("sleep 60") && error.description.contains("killed (SIGKILL)"), "\(error)")
            #expect(error.stderr.contains("started"), "\(error.stderr)")
        }
        #expect(Date().timeIntervalSince(start) < 15, "the deadline did not stop the wait")
        // A quick command is untouched.
        let quick = try Fixtures.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], timeout: 30)
        #expect(quick.status == 3 && quick.stdout == "out\n" && quick.stderr == "err\n")
    }
}
