//! The ABI table itself: names, indices and signatures.

use std::collections::BTreeSet;

use gasket_host_api::{
    HostFunction, Intrinsic, WasmType, ABI_VERSION, ENV_MODULE, HOST_FUNCTIONS, RESERVED_MODULE,
};

#[test]
fn constants() {
    assert_eq!(ABI_VERSION, 1);
    assert_eq!(ENV_MODULE, "env");
    assert_eq!(RESERVED_MODULE, "gasket");
}

#[test]
fn name_and_index_round_trip() {
    assert_eq!(HostFunction::ALL.len(), HOST_FUNCTIONS.len());
    for (i, &func) in HostFunction::ALL.iter().enumerate() {
        assert_eq!(func as u32 as usize, i);
        assert_eq!(func.index(), i as u32);
        assert_eq!(HostFunction::from_index(i as u32), Some(func));
        assert_eq!(HostFunction::from_name(func.name()), Some(func));
        assert_eq!(func.spec().function, func);
        assert_eq!(func.to_string(), func.name());
    }
    assert_eq!(
        HostFunction::from_index(HostFunction::ALL.len() as u32),
        None
    );
    assert_eq!(HostFunction::from_index(u32::MAX), None);
    assert_eq!(HostFunction::from_name("Storage_Write"), None);
    assert_eq!(HostFunction::from_name(""), None);
    assert_eq!(HostFunction::from_name("gas"), None);
}

/// Indices are consensus-critical (compiled code refers to them): pin a few.
#[test]
fn dispatch_indices_are_stable() {
    let pinned = [
        (0, "read_register"),
        (1, "register_len"),
        (6, "storage_write"),
        (7, "storage_read"),
        (14, "sha256"),
    ];
    for (index, name) in pinned {
        assert_eq!(
            HostFunction::from_index(index).map(HostFunction::name),
            Some(name)
        );
    }
}

#[test]
fn names_are_unique_snake_case_and_distinct_from_intrinsics() {
    let names: BTreeSet<&str> = HostFunction::ALL.iter().map(|f| f.name()).collect();
    assert_eq!(names.len(), HostFunction::ALL.len());
    for name in &names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
    }
    for intrinsic in Intrinsic::ALL {
        assert!(!names.contains(intrinsic.name()));
    }
}

#[test]
fn signatures_follow_wasm32_conventions() {
    for row in &HOST_FUNCTIONS {
        let sig = row.signature;
        assert!(sig.results.len() <= 1, "{}", row.name);
        assert_eq!(row.param_names.len(), sig.params.len(), "{}", row.name);
        for (name, ty) in row.param_names.iter().zip(sig.params) {
            assert!(matches!(ty, WasmType::I32 | WasmType::I64));
            let expected = if *name == "register_id" {
                WasmType::I64
            } else {
                assert!(name.ends_with("ptr") || name.ends_with("len"), "{name}");
                WasmType::I32
            };
            assert_eq!(*ty, expected, "{}: {name}", row.name);
        }
        for ty in sig.results {
            assert!(matches!(ty, WasmType::I32 | WasmType::I64));
        }
    }
}

#[test]
fn every_row_is_documented() {
    for row in &HOST_FUNCTIONS {
        for (what, text) in [
            ("semantics", row.semantics),
            ("errors", row.errors),
            ("gas_bytes", row.gas_bytes),
        ] {
            assert!(!text.trim().is_empty(), "{}: empty {what}", row.name);
            assert!(
                !text.contains('\n'),
                "{}: {what} must be one line",
                row.name
            );
        }
        if row.gas.per_byte == 0 {
            assert_eq!(row.gas_bytes, "-", "{}", row.name);
        }
    }
}

#[test]
fn borsh_tag_is_the_dispatch_index() {
    for &func in HostFunction::ALL {
        let bytes = borsh::to_vec(&func).unwrap();
        assert_eq!(bytes, vec![func as u8]);
        assert_eq!(borsh::from_slice::<HostFunction>(&bytes).unwrap(), func);
    }
}

#[test]
fn specific_signatures() {
    use WasmType::{I32, I64};
    let sig = |f: HostFunction| (f.signature().params, f.signature().results);
    assert_eq!(sig(HostFunction::ReadRegister), (&[I64, I32][..], &[][..]));
    assert_eq!(sig(HostFunction::RegisterLen), (&[I64][..], &[I64][..]));
    assert_eq!(
        sig(HostFunction::StorageWrite),
        (&[I32, I32, I32, I32][..], &[I32][..])
    );
    assert_eq!(
        sig(HostFunction::StorageRead),
        (&[I32, I32, I64][..], &[I32][..])
    );
    assert_eq!(sig(HostFunction::BlockTimestamp), (&[][..], &[I64][..]));
    assert_eq!(sig(HostFunction::Sha256), (&[I32, I32, I64][..], &[][..]));
    assert_eq!(
        HostFunction::StorageWrite.signature().to_string(),
        "(i32, i32, i32, i32) -> (i32)"
    );
}
