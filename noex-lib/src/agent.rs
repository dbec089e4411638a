//! The embedded agent: serves this application's Observer data to `noex`.

use std::sync::OnceLock;

static APP_NAME: OnceLock<String> = OnceLock::new();

/// The application's name, as shown by `noex list` and the dashboard.
pub fn app_name() -> String {
    APP_NAME
        .get_or_init(|| {
            std::env::current_exe()
                .ok()
                .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "noex-app".to_string())
        })
        .clone()
}

pub(crate) fn autostart() {}
