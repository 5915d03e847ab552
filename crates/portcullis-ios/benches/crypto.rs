//! Encrypted-backup costs: key derivation at real iteration counts (PBKDF2-SHA256 ×10,000,000
//! then PBKDF2-SHA1 ×10,000, once per backup) and bulk AES-256-CBC decryption throughput.
//!
//! `cargo bench -p portcullis-ios --bench crypto`

use std::hint::black_box;

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_ios::encrypted::{Keybag, decrypt_stream};
use rayon::prelude::*;

fn tlv(out: &mut Vec<u8>, tag: &[u8; 4], value: &[u8]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

/// A keybag with iOS's real iteration counts.
fn real_keybag() -> Keybag {
    let mut kb = Vec::new();
    tlv(&mut kb, b"VERS", &4u32.to_be_bytes());
    tlv(&mut kb, b"UUID", &[1; 16]);
    tlv(&mut kb, b"SALT", &[2; 20]);
    tlv(&mut kb, b"ITER", &10_000u32.to_be_bytes());
    tlv(&mut kb, b"DPIC", &10_000_000u32.to_be_bytes());
    tlv(&mut kb, b"DPSL", &[3; 20]);
    tlv(&mut kb, b"UUID", &[4; 16]);
    tlv(&mut kb, b"CLAS", &3u32.to_be_bytes());
    tlv(&mut kb, b"WRAP", &2u32.to_be_bytes());
    tlv(&mut kb, b"WPKY", &[5; 40]);
    Keybag::parse(&kb).expect("valid keybag")
}

fn encrypted(len: usize, key: &[u8; 32]) -> Vec<u8> {
    let mut buf: Vec<u8> = (0..len + 16).map(|i| (i % 251) as u8).collect();
    let enc = cbc::Encryptor::<aes::Aes256>::new(&(*key).into(), &[0u8; 16].into());
    let n = enc
        .encrypt_padded::<Pkcs7>(&mut buf, len)
        .expect("room for padding")
        .len();
    buf.truncate(n);
    buf
}

fn key_derivation(c: &mut Criterion) {
    let keybag = real_keybag();
    let mut group = c.benchmark_group("key_derivation");
    group.sample_size(10);
    group.bench_function("pbkdf2_sha256_10M_then_sha1_10k", |b| {
        b.iter(|| keybag.derive_key(black_box(b"correct horse battery staple")))
    });
    group.finish();
}

fn bulk_decryption(c: &mut Criterion) {
    const FILE: usize = 32 << 20;
    let key = [7u8; 32];
    let files: Vec<Vec<u8>> = (0..rayon::current_num_threads().max(2))
        .map(|_| encrypted(FILE, &key))
        .collect();
    let mut group = c.benchmark_group("aes256_cbc_decrypt");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(FILE as u64));
    group.bench_function("one_stream", |b| {
        b.iter(|| decrypt_stream(&key, &files[0][..], std::io::sink()).expect("decrypts"))
    });
    group.throughput(Throughput::Bytes((FILE * files.len()) as u64));
    group.bench_function("all_cores_one_file_each", |b| {
        b.iter(|| {
            files
                .par_iter()
                .map(|f| decrypt_stream(&key, &f[..], std::io::sink()).expect("decrypts"))
                .sum::<u64>()
        })
    });
    group.finish();
}

criterion_group!(benches, key_derivation, bulk_decryption);
criterion_main!(benches);
