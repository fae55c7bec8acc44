package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.NvmeStatusException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/** nvme-lm's command line, in nvme-cli's style: {@code nvme-lm <command> [<device>] [OPTIONS]}. */
@Command(name = "nvme-lm", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Live migration of NVMe namespaces driven by the Controller Data Queue (NVMe 2.1 HMLM).",
        subcommands = {DemoCommand.class, MigrateCommand.class, LmCommand.class, DeviceServeCommand.class, IdCtrlCommand.class, IoCommand.class, FormatCommand.class, ServeCommand.class, TlsCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit status (0 ok, 1 any error, 128 + signo when a signal stopped it). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setUsageHelpAutoWidth(true);   // descriptions wrap where the terminal does (80 columns when it cannot tell)
        cl.setParameterExceptionHandler(Main::onBadParameters);
        cl.setExecutionExceptionHandler(Main::onFailure);
        int rc = cl.execute(args);
        out.flush();
        err.flush();
        return rc == 0 || rc >= 128 ? rc : 1;   // 128 + signo: stopped by a signal, as a shell reports it
    }

    private static int onBadParameters(CommandLine.ParameterException e, String[] args) {
        PrintWriter err = e.getCommandLine().getErr();
        err.println("nvme-lm: " + firstLine(e.getMessage()) + " (see '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
        return 1;
    }

    private static int onFailure(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        int verbosity = cl.getCommand() instanceof HasGlobals g && g.globals() != null ? g.globals().verbosity() : 0;
        boolean json = cl.getCommand() instanceof HasGlobals g && g.globals() != null && "json".equals(g.globals().outputFormat);
        Throwable t = e;
        if (t instanceof CommandLine.ExecutionException && t.getCause() != null) t = t.getCause();
        switch (t) {
            case NvmeStatusException s -> {
                if (json) {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("error", s.status().name() + ": " + s.status().description());
                    m.put("type", "nvme");
                    m.put("status", s.status().field());
                    cl.getOut().println(Json.pretty(m));
                } else {
                    cl.getErr().println(s.status().toNvmeCliString());
                }
            }
            case NvmeException n -> cl.getErr().println("nvme-lm: " + n.getMessage());
            case CliException c -> {
                cl.getErr().println("nvme-lm: " + c.getMessage());
                if (verbosity >= 2) c.printStackTrace(cl.getErr());
                return c.exitStatus();
            }
            case IllegalArgumentException i -> cl.getErr().println("nvme-lm: " + i.getMessage());
            case java.nio.file.FileSystemException f -> cl.getErr().println("nvme-lm: " + FileErrors.describe(f));
            default -> cl.getErr().println("nvme-lm: internal error: " + t + (verbosity < 2 ? " (run with -vv for details)" : ""));
        }
        if (verbosity >= 2) t.printStackTrace(cl.getErr());
        return 1;
    }

    private static String firstLine(String s) {
        if (s == null) return "invalid arguments";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Commands that carry the global options expose them for the error handler. */
    interface HasGlobals {
        GlobalOptions globals();
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"nvme-lm " + (v != null ? v : "dev") + " (Java " + Runtime.version() + ")"};
        }
    }
}
