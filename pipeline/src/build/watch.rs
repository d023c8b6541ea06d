//! `--watch`: a live build driven by the loop that looks at the inputs' signature and runs
//! an epoch when it changed (on process 0 of a cluster), and the loop's unit tests.

use std::cell::{Cell, RefCell};
use std::path::Path;

use super::{
    BuildArgs, BuildConfig, LiveBuild, MANIFEST, input_signature, print_summary, resolve_trees,
    settings,
};

/// `--watch`: starts a live build graph and builds; then looks at the inputs every
/// `interval`, and once their signature has changed and then held still for one more look
/// (a file being written does not start a build), runs the next epoch: the graph, still
/// alive, is fed the scenes that changed (new, changed, removed) as differential updates,
/// and unchanged shards keep their files. A failed epoch is reported and the previous output
/// stays published; an output folder removed is published again. An edit of `config_file`
/// starts a new graph with its settings. Runs until the process is stopped.
pub fn watch(
    args: &BuildArgs,
    interval: std::time::Duration,
    config_file: Option<&Path>,
) -> anyhow::Result<()> {
    let live = LiveBuild::start(args)?;
    if let Some(cluster) = args.cluster.as_ref().filter(|c| c.process != 0) {
        if !args.quiet {
            eprintln!(
                "process {}: taking part in the epochs process 0 starts",
                cluster.process
            );
        }
        return live.follow();
    }
    let live = RefCell::new(live);
    // The arguments the graph runs with (its config changes with the config file).
    let current = RefCell::new(args.clone());
    // Why the watch stops: a cluster whose graph failed cannot start a new one alone.
    let stopped: RefCell<Option<anyhow::Error>> = RefCell::new(None);
    // A graph a worker failed in cannot go on. Alone, the next change starts a new one,
    // which takes what it can from the caches; a cluster stops (its processes restart
    // together). Says whether to go on.
    let recover = || {
        let mut live = live.borrow_mut();
        if !live.check_workers() {
            return true;
        }
        if args.cluster.is_some() {
            *stopped.borrow_mut() = Some(live.stopped());
            return false;
        }
        match LiveBuild::start(&current.borrow()) {
            Ok(fresh) => *live = fresh,
            Err(e) => eprintln!("error: restarting the live build: {e:#}"),
        }
        true
    };
    let config_bytes = |path: &Path| std::fs::read(path).unwrap_or_default();
    let config_seen = RefCell::new(config_file.map(config_bytes));
    // The config file edited: its settings hold for the whole graph, so a new graph starts
    // with them (taking what it can from the caches). A cluster's processes each hold their
    // own config: they keep theirs until restarted together. Says whether an edit was
    // refused (the graph keeps the settings it has).
    let reload_config = || {
        let Some(path) = config_file else {
            return false;
        };
        let now = config_bytes(path);
        if config_seen.borrow().as_ref() == Some(&now) {
            return false;
        }
        *config_seen.borrow_mut() = Some(now);
        if args.cluster.is_some() {
            eprintln!(
                "warning: {} changed; a cluster keeps the settings it started with (restart \
                 every process to use the new ones)",
                path.display()
            );
            return true;
        }
        let fresh = BuildConfig::load(path).and_then(|(config, base)| {
            let fresh_args = BuildArgs {
                config,
                base,
                ..current.borrow().clone()
            };
            LiveBuild::start(&fresh_args).map(|graph| (graph, fresh_args))
        });
        match fresh {
            Ok((graph, fresh_args)) => {
                *live.borrow_mut() = graph;
                *current.borrow_mut() = fresh_args;
                if !args.quiet {
                    eprintln!("{} changed: a new graph with its settings", path.display());
                }
                false
            }
            Err(e) => {
                eprintln!("error: {e:#} (the watch goes on with the settings it has)");
                true
            }
        }
    };
    // The inputs' signature apart from the settings: a refused config edit with nothing
    // else changed leaves nothing to build.
    let trees_signature = || match resolve_trees(&current.borrow()) {
        Ok(trees) => input_signature(&trees, ""),
        Err(e) => format!("unreadable inputs: {e:#}"),
    };
    let trees_built: RefCell<Option<String>> = RefCell::new(None);
    // An input that cannot be listed gives a signature of its own: the build that follows
    // reports the problem. The config file's bytes stand for the settings: an edit is seen
    // as it is made, and the signature is the same before the graph takes it and after.
    let signature = || {
        let args = current.borrow();
        let settings = match config_file {
            Some(path) => Ok(crossview_schemas::sha256_hex(&config_bytes(path))),
            None => settings(&args.config),
        };
        match (resolve_trees(&args), settings) {
            (Ok(trees), Ok(s)) => input_signature(&trees, &s),
            (Err(e), _) => format!("unreadable inputs: {e:#}"),
            (_, Err(e)) => format!("unreadable settings: {e:#}"),
        }
    };
    // Whether the last epoch published (a failed one leaves the output as it was).
    let published = Cell::new(false);
    let build = || {
        let refused = reload_config();
        let trees = trees_signature();
        let unchanged = trees_built.borrow().as_ref() == Some(&trees);
        if refused && unchanged && published.get() && args.out.join(MANIFEST).exists() {
            return;
        }
        *trees_built.borrow_mut() = Some(trees);
        let built = live.borrow_mut().build();
        published.set(built.is_ok());
        match built {
            Ok(summary) => print_summary(&current.borrow(), &summary),
            Err(e) => eprintln!("error: {e:#}"),
        }
    };
    let announce = || {
        if !args.quiet {
            eprintln!(
                "inputs or settings changed: building {}",
                args.out.display()
            );
        }
    };
    watch_loop(signature, &build, announce, || {
        std::thread::sleep(interval);
        if !recover() {
            return false;
        }
        // The output removed while watching: the graph, which holds the corpus, publishes
        // it whole again (its shards' files gone, every shard is made).
        if published.get() && !args.out.join(MANIFEST).exists() {
            if !args.quiet {
                eprintln!("output removed: publishing {} again", args.out.display());
            }
            build();
        }
        true
    });
    match stopped.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The watch loop over its effects: `signature` looks at the inputs, `build` builds,
/// `announce` says a change was seen, `wait` waits one interval and says whether to go on.
///
/// The signature is taken before each build, never after: an edit made while a build runs
/// (even after it published) differs from it, so the next look builds again.
fn watch_loop(
    signature: impl Fn() -> String,
    mut build: impl FnMut(),
    announce: impl Fn(),
    mut wait: impl FnMut() -> bool,
) {
    let mut built = signature();
    build();
    while wait() {
        let now = signature();
        if now == built {
            continue;
        }
        if !wait() {
            return;
        }
        if signature() != now {
            continue;
        }
        announce();
        build();
        built = now;
    }
}

#[cfg(test)]
mod tests {
    use super::watch_loop;
    use std::cell::{Cell, RefCell};

    /// Runs the loop for `looks` waits over inputs whose version is `inputs`; `during_build`
    /// edits them while the n-th build runs. Returns the input version each build saw.
    fn builds_seen(looks: usize, during_build: impl Fn(usize, &Cell<u32>)) -> Vec<u32> {
        let inputs = Cell::new(0u32);
        let seen = RefCell::new(Vec::new());
        let left = Cell::new(looks);
        watch_loop(
            || format!("v{}", inputs.get()),
            || {
                let n = seen.borrow().len();
                seen.borrow_mut().push(inputs.get());
                during_build(n, &inputs);
            },
            || {},
            || {
                let go = left.get() > 0;
                left.set(left.get().saturating_sub(1));
                go
            },
        );
        seen.into_inner()
    }

    #[test]
    fn unchanged_inputs_are_built_once() {
        assert_eq!(builds_seen(10, |_, _| {}), vec![0]);
    }

    #[test]
    fn an_edit_made_while_the_first_build_runs_is_built() {
        // The edit lands after the build read its inputs (as after publishing the manifest
        // and before the report is written): a signature taken after the build would equal
        // the edited inputs and the edit would never be built.
        let seen = builds_seen(10, |n, inputs| {
            if n == 0 {
                inputs.set(1);
            }
        });
        assert_eq!(seen, vec![0, 1]);
    }

    #[test]
    fn an_edit_made_while_a_later_build_runs_is_built() {
        let seen = builds_seen(20, |n, inputs| {
            if n == 0 {
                inputs.set(1);
            } else if n == 1 {
                inputs.set(2);
            }
        });
        assert_eq!(seen, vec![0, 1, 2]);
    }
}
