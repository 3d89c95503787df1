import XCTest
@testable import VinDrAnnotations

final class TaxonomyTests: XCTestCase {
    func testLabelCountsKindsAndKaggleIDs() {
        XCTAssertEqual(Taxonomy.count, 28)
        XCTAssertEqual(Taxonomy.labels.filter { $0.kind == .local }.count, 22)
        XCTAssertEqual(Taxonomy.labels.filter { $0.kind == .global }.count, 6)
        // Local labels first: the index relies on it to tell kinds apart by position.
        XCTAssertEqual(Taxonomy.labels.prefix(22).map(\.kind), [LabelKind](repeating: .local, count: 22))
        // The competition's class list, copied from its data description.
        let kaggle = ["Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Consolidation", "ILD",
                      "Infiltration", "Lung Opacity", "Nodule/Mass", "Other lesion", "Pleural effusion",
                      "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis", "No finding"]
        XCTAssertEqual(Taxonomy.kaggleClasses.map(\.name), kaggle)
        XCTAssertEqual(Taxonomy.noFinding.kaggleClassID, 14)
    }

    func testAliasesAndCase() {
        XCTAssertEqual(Taxonomy.label(named: "Other disease")?.name, "Other diseases")
        XCTAssertEqual(Taxonomy.label(named: "Lung opacity")?.name, "Lung Opacity")
        XCTAssertEqual(Taxonomy.label(named: "nodule/mass")?.name, "Nodule/Mass")
        XCTAssertEqual(Taxonomy.label(named: "Enlarged PA")?.kind, .local)
        XCTAssertNil(Taxonomy.label(named: "Fracture"))
        XCTAssertNil(Taxonomy.label(kaggleClassID: 15))
        XCTAssertEqual(Taxonomy.label(kaggleClassID: 9)?.name, "Other lesion")
    }
}
