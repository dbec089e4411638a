//! What every command, the demo and the dashboard share besides their own arguments:
//! which application to attach to, and the colour decisions.

use crate::cli::{Cli, ColorChoice, TargetArgs};
use crate::render::style::{Stream, Style};

/// What every command may need besides its own arguments.
#[derive(Clone, Debug)]
pub struct Context {
    pub target: TargetArgs,
    /// `--color`, for views that decide colour their own way (the dashboard).
    #[allow(dead_code)]
    pub color: ColorChoice,
    /// Colours for stdout and stderr, each decided for its own stream.
    pub stdout: Style,
    pub stderr: Style,
}

impl Context {
    pub fn new(cli: &Cli) -> Context {
        Context {
            target: cli.target.clone(),
            color: cli.color,
            stdout: Style::detect(cli.color, Stream::Stdout),
            stderr: Style::detect(cli.color, Stream::Stderr),
        }
    }
}
