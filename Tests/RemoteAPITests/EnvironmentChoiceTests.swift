import Remote
import XCTest

/// `rviewer open`'s pick when no environment is named (decisions.md, "CLI").
final class EnvironmentChoiceTests: XCTestCase {
    private func c(_ name: String, _ version: String?, installed: Bool = true) -> EnvironmentChoice.Candidate {
        .init(name: name, runicornInstalled: installed, runicornVersion: version)
    }

    func testTheNewestRunicornWinsNumericallyThenTheName() {
        XCTAssertEqual(EnvironmentChoice.pick([c("old", "0.9.3"), c("new", "0.10.1"), c("plain", nil, installed: false)]), .use("new"))
        XCTAssertEqual(EnvironmentChoice.pick([c("zeta", "0.7.2"), c("alpha", "0.7.2")]), .use("alpha"), "a tie goes by name")
        XCTAssertEqual(EnvironmentChoice.pick([c("unknown", nil), c("known", "0.1")]), .use("known"), "a missing version is oldest")
        XCTAssertEqual(EnvironmentChoice.pick([c("only", "1.0")]), .use("only"))
    }

    func testNoRunicornOrANameNotFound() {
        XCTAssertEqual(EnvironmentChoice.pick([c("plain", nil, installed: false)]), .noneWithRunicorn)
        XCTAssertEqual(EnvironmentChoice.pick([]), .noneWithRunicorn)
        XCTAssertEqual(EnvironmentChoice.pick([c("a", "1")], named: "b"), .notFound("b"))
        XCTAssertEqual(EnvironmentChoice.pick([c("plain", nil, installed: false)], named: "plain"), .use("plain"),
                       "a named environment is used as named (the start answers if Runicorn is missing)")
    }

    func testVersionComparison() {
        XCTAssertEqual(EnvironmentChoice.compare("1.0", "1.0.0"), 0)
        XCTAssertEqual(EnvironmentChoice.compare("0.10", "0.9"), 1)
        XCTAssertEqual(EnvironmentChoice.compare("0.7.2rc1", "0.7.2"), 0, "a suffix is not a newer release")
        XCTAssertEqual(EnvironmentChoice.compare(nil, "0.1"), -1)
        XCTAssertEqual(EnvironmentChoice.compare(nil, nil), 0)
    }
}
