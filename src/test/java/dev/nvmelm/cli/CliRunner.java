package dev.nvmelm.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process and captures its streams and exit status. */
record CliRunner(int exit, String out, String err) {
    static CliRunner run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRunner(rc, out.toString(), err.toString());
    }

    /** Reads an unsigned integer field from the CLI's pretty JSON output. */
    long jsonLong(String key) {
        var m = java.util.regex.Pattern.compile("\"" + key + "\": (\\d+)").matcher(out);
        if (!m.find()) throw new AssertionError("no \"" + key + "\" in " + out);
        return Long.parseLong(m.group(1));
    }
}
