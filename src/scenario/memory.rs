//! The sandbox's memory limit, where the binary counts what a script holds
//! ([`crate::alloc`]): Rhai's per-value size limits are off (they walk a
//! whole array after every push), each operation checks the bytes held,
//! and the functions that allocate a size the script names (`pad`,
//! `blob`) check it first, so no single call can ask for gigabytes.

use std::mem::size_of;

use rhai::{Blob, Dynamic, Engine, EvalAltResult, INT, ImmutableString, Position};

use crate::alloc::ScriptBudget;

/// The error a script gets past its memory limit.
pub fn too_much(limit: usize) -> String {
    format!(
        "the script holds more than the sandbox's {} of memory",
        bytesize::ByteSize::b(limit as u64).display().iec()
    )
}

/// Replace `pad` and `blob` by versions that check the memory limit
/// before allocating (registered functions win over Rhai's packages).
pub fn register_checked_allocations(engine: &mut Engine, limit: usize) {
    let check = move |len: INT, each: usize| -> Result<usize, Box<EvalAltResult>> {
        let len = usize::try_from(len.max(0)).unwrap_or(usize::MAX);
        if ScriptBudget::held().saturating_add(len.saturating_mul(each)) > limit {
            return Err(Box::new(EvalAltResult::ErrorRuntime(
                too_much(limit).into(),
                Position::NONE,
            )));
        }
        Ok(len)
    };
    engine.register_fn(
        "pad",
        move |array: &mut rhai::Array, len: INT, item: Dynamic| -> Result<(), Box<EvalAltResult>> {
            let len = check(len, size_of::<Dynamic>())?;
            if len > array.len() {
                array.resize(len, item);
            }
            Ok(())
        },
    );
    engine.register_fn(
        "pad",
        move |blob: &mut Blob, len: INT, value: INT| -> Result<(), Box<EvalAltResult>> {
            let len = check(len, 1)?;
            if len > blob.len() {
                blob.resize(len, (value & 0xff) as u8);
            }
            Ok(())
        },
    );
    engine.register_fn(
        "blob",
        move |len: INT| -> Result<Blob, Box<EvalAltResult>> {
            let len = check(len, 1)?;
            Ok(vec![0; len])
        },
    );
    engine.register_fn(
        "blob",
        move |len: INT, value: INT| -> Result<Blob, Box<EvalAltResult>> {
            let len = check(len, 1)?;
            Ok(vec![(value & 0xff) as u8; len])
        },
    );
    engine.register_fn(
        "pad",
        move |string: &mut ImmutableString, len: INT, c: char| -> Result<(), Box<EvalAltResult>> {
            let len = check(len, c.len_utf8())?;
            let have = string.chars().count();
            if len > have {
                let text = string.make_mut();
                text.extend(std::iter::repeat_n(c, len - have));
            }
            Ok(())
        },
    );
    engine.register_fn(
        "pad",
        move |string: &mut ImmutableString,
              len: INT,
              padding: &str|
              -> Result<(), Box<EvalAltResult>> {
            let len = check(len, padding.len().max(1))?;
            let mut have = string.chars().count();
            if len <= have || padding.is_empty() {
                return Ok(());
            }
            let text = string.make_mut();
            while have < len {
                let take = (len - have).min(padding.chars().count());
                text.extend(padding.chars().take(take));
                have += take;
            }
            Ok(())
        },
    );
}
