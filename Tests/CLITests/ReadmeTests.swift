import Foundation
import Testing

/// The README is the first thing a user reads in a clone: its links and the paths it names must
/// be there, and the exit statuses it lists must be the ones the commands use.
@Suite("README")
struct ReadmeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("Every relative link and every repository path the README names exists in the clone")
    func links() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(!text.contains("../shared"), "a path outside the repository")
        let link = try Regex(#"\]\(([^)#:]+)\)"#)
        var targets = text.matches(of: link).map { String($0.output[1].substring ?? "") }
        // Paths in backquotes that name files of the repository: `docs/…`, `scripts/…`, `Sources/…`.
        let path = try Regex(#"`((?:docs|scripts|Sources|Tests|fixtures)/[A-Za-z0-9_./+-]+)`"#)
        targets += text.matches(of: path).map { String($0.output[1].substring ?? "") }
        #expect(targets.count >= 3)
        for target in Set(targets) {
            let file = Self.root.appendingPathComponent(target.trimmingCharacters(in: CharacterSet(charactersIn: "/")))
            #expect(FileManager.default.fileExists(atPath: file.path), "README names \(target), which is not in the repository")
        }
    }

    @Test("The exit-status table lists exactly the statuses of Sources/SinkstreamCLI/ExitStatus.swift")
    func exitStatuses() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: Self.root.appendingPathComponent("Sources/SinkstreamCLI/ExitStatus.swift"), encoding: .utf8)
        let declared = Set(source.matches(of: try Regex(#"case \w+ = (\d+)"#)).compactMap { Int($0.output[1].substring ?? "") })
        let section = readme.components(separatedBy: "### Exit status").dropFirst().first ?? ""
        let listed = Set(section.matches(of: try Regex(#"\n\| (\d+) \|"#)).compactMap { Int($0.output[1].substring ?? "") })
        #expect(declared.count >= 8)
        #expect(listed == declared, "README \(listed.sorted()) vs ExitStatus \(declared.sorted())")
    }
}
