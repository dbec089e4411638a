//! `noex completions <shell>`: the completion script clap writes from the command's own
//! definition, so it always knows every subcommand and flag.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::commands::write_out;
use crate::error::CliError;

pub fn run(args: &CompletionsArgs) -> Result<(), CliError> {
    write_out(&script(args.shell))
}

/// The completion script for `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut out);
    String::from_utf8(out).expect("completion scripts are text")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap_complete::Shell;

    use super::*;

    #[test]
    fn every_shell_s_script_names_every_subcommand() {
        let subcommands: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|sub| sub.get_name().to_string())
            .collect();
        assert!(subcommands.len() >= 9, "{subcommands:?}");
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let script = script(shell);
            for sub in &subcommands {
                assert!(script.contains(sub.as_str()), "{shell}: no {sub}");
            }
            assert!(script.contains("json"), "{shell}: the flags too");
        }
    }
}
