//! scripts/test.sh on a machine without the viewer test's browser: it
//! stops at once, before building anything, naming the one command that
//! installs what is missing (or the switch that skips that test), rather
//! than failing deep in the run.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

/// A folder with only these programs (symlinks to the real ones), for a
/// PATH that lacks everything else.
fn bare_path(dir: &Path, programs: &[&str]) {
    for program in programs {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .unwrap();
        let real = String::from_utf8_lossy(&found.stdout).trim().to_string();
        assert!(!real.is_empty(), "{program} is on this machine");
        std::os::unix::fs::symlink(real, dir.join(program)).unwrap();
    }
}

#[test]
fn without_chromium_or_npm_test_sh_stops_first_naming_the_install_command() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    bare_path(&bin, &["bash", "dirname", "mkdir", "id"]);
    // A cargo that leaves a mark: it must never run.
    let mark = dir.path().join("cargo-ran");
    let cargo = bin.join("cargo");
    std::fs::write(&cargo, format!("#!/bin/sh\ntouch '{}'\n", mark.display())).unwrap();
    let mut mode = std::fs::metadata(&cargo).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&cargo, mode).unwrap();

    let out = Command::new(common::root().join("scripts/test.sh"))
        .env_clear()
        .env("PATH", &bin)
        .env("HOME", dir.path())
        .env("TRACELAB_CACHE", dir.path().join("cache"))
        // Not on this machine, whatever /usr/bin holds.
        .env("TRACELAB_CHROMIUM", dir.path().join("no-chromium"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the trace viewer's browser test needs chromium npm"),
        "{err}"
    );
    assert!(
        err.contains("    sudo apt-get install -y chromium npm"),
        "{err}"
    );
    assert!(
        err.contains("or set TRACELAB_SKIP_BROWSER=1 to skip that test."),
        "{err}"
    );
    assert!(!mark.exists(), "cargo ran before the browser check");
    assert!(
        !dir.path().join("cache").join("playwright-1.65.1").exists(),
        "nothing was installed"
    );
}

#[test]
fn with_chromium_and_npm_install_browser_sh_only_says_where_chromium_is() {
    if std::env::var("TRACELAB_SKIP_BROWSER").as_deref() == Ok("1") {
        common::notice("TRACELAB_SKIP_BROWSER=1: not checking scripts/install-browser.sh");
        return;
    }
    let out = Command::new(common::root().join("scripts/install-browser.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(Path::new(&path).is_file(), "{path}");
}
