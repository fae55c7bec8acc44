package dev.nvmelm.cli;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** A command with the global options (-o, -v, --timeout, --dry-run), so errors print as Main decides. */
abstract class CliCommand implements Callable<Integer>, Main.HasGlobals {
    @Mixin
    GlobalOptions g;

    @Spec
    CommandSpec spec;

    @Override
    public GlobalOptions globals() {
        return g;
    }

    PrintWriter out() {
        return spec.commandLine().getOut();
    }
}
