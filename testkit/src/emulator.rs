//! What the deploy tests (`xtask-aws/tests/`) share against moto: the emulator's credentials,
//! set once for the test process, and a stand-in deployment package.

use std::path::Path;
use std::sync::Once;

/// Static credentials for the emulator, set once for the whole test process.
pub fn credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: set before any test thread reads the environment through the SDK, once.
        unsafe {
            std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
            std::env::remove_var("AWS_PROFILE");
        }
    });
}

/// A real zip holding a `bootstrap` at `zip`: moto stores it, it cannot run it.
pub fn stand_in_package(zip: &Path) {
    xtask::tools::run_checked(
        std::process::Command::new(xtask::tools::venv_bin("python"))
            .arg("-c")
            .arg(
                "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: \
                 z.writestr('bootstrap', '#!/bin/sh\\n')",
            )
            .arg(zip),
    )
    .unwrap();
}
