//! `portcullis iocs add-taxii` from the command line: secrets only by reference, and a server
//! that cannot be used leaves nothing installed. (The sync itself is tested against a
//! self-made server and a real medallion in portcullis-feeds.)

mod common;

use common::iocs;

#[test]
fn add_taxii_takes_secrets_by_reference_and_installs_nothing_on_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let url = "http://127.0.0.1:9/taxii2/";

    // A user without a password reference is refused before any request.
    let (code, _, stderr) = iocs(
        &data,
        &["add-taxii", url, "--collection", "c", "--user", "u"],
    );
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--user needs --password-env or --password-file"),
        "{stderr}"
    );

    // There is no option that takes the secret itself.
    let (code, _, stderr) = iocs(
        &data,
        &[
            "add-taxii",
            url,
            "--collection",
            "c",
            "--password",
            "hunter2",
        ],
    );
    assert_eq!(code, 2, "{stderr}");

    // Nothing listens on port 9: the error names the address and nothing is installed.
    let (code, _, stderr) = iocs(
        &data,
        &[
            "add-taxii",
            url,
            "--collection",
            "c",
            "--token-env",
            "PORTCULLIS_TEST_TOKEN",
        ],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
    let (_, listed, _) = iocs(&data, &["list"]);
    assert!(!listed.contains("TAXII"), "{listed}");
    assert!(
        !std::fs::read_dir(data.join("iocs/collections"))
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );
}
