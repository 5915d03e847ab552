//! Regenerates the Iran-focused collection from Maltrail's trails:
//! `iran-collection TRAILS_DIR OUTPUT` (see scripts/iran-collection.sh).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [trails, output] = args.as_slice() else {
        eprintln!("usage: iran-collection TRAILS_DIR OUTPUT");
        return ExitCode::from(2);
    };
    let bytes = match portcullis_interchange::iran::generate(std::path::Path::new(trails)) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("iran-collection: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(output, &bytes) {
        eprintln!("iran-collection: {output}: {e}");
        return ExitCode::FAILURE;
    }
    println!("wrote {output} ({} bytes)", bytes.len());
    ExitCode::SUCCESS
}
