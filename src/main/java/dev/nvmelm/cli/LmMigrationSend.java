package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.MigrationSendCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

@Command(name = "migration-send", description = "Migration Send")
final class LmMigrationSend extends DeviceCommand {
    // nvme-cli uses -V for --csvi, so only --help (not --version) is mixed in here
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = {"-s", "--sel"}, converter = Numbers.class,
            description = "Select: 0 = Suspend, 1 = Resume, 2 = Set Controller State")
    Long sel;

    @Option(names = {"-c", "--cntlid"}, converter = Numbers.class, defaultValue = "0", description = "Controller ID (CDW11[15:0])")
    long cntlid;

    @Option(names = {"-t", "--stype"}, converter = Numbers.class, defaultValue = "0",
            description = "Suspend Type (CDW11[23:16]): 0 = Suspend Notification, 1 = Suspend")
    long stype;

    @Option(names = {"-d", "--dudmq"}, description = "Delete User Data Migration Queue on suspend (CDW11[31])")
    boolean dudmq;

    @Option(names = {"-S", "--seq-ind"}, converter = Numbers.class, defaultValue = "0",
            description = "Sequence Indicator (CDW10[17:16]): 0 middle, 1 first, 2 last, 3 entire")
    long seqInd;

    @Option(names = {"-U", "--csuuidi"}, converter = Numbers.class, defaultValue = "0", description = "Controller State UUID Index (CDW11[31:24])")
    long csuuidi;

    @Option(names = {"-V", "--csvi"}, converter = Numbers.class, defaultValue = "0", description = "Controller State Version Index (CDW11[23:16])")
    long csvi;

    @Option(names = {"-u", "--uidx"}, converter = Numbers.class, defaultValue = "0", description = "UUID Index (CDW14[6:0])")
    long uidx;

    @Option(names = {"-O", "--offset"}, converter = Numbers.class, defaultValue = "0", description = "Offset in bytes (CDW12/13)")
    long offset;

    @Option(names = {"-n", "--numd"}, converter = Numbers.class,
            description = "Number of dwords to transfer (default: the whole input file)")
    Long numd;

    @Option(names = {"-f", "--input-file"}, paramLabel = "FILE", description = "Controller state to send")
    Path inputFile;

    private String selName = "";

    @Override
    Prepared prepare() throws IOException {
        if (sel == null) throw new CliException("Select field required (--sel)");
        int cntl = field("--cntlid", cntlid, 16);
        int ui = field("--uidx", uidx, 7);
        switch (sel.intValue()) {
            case 0, 1 -> {
                if (csuuidi != 0 || csvi != 0 || seqInd != 0 || offset != 0 || numd != null || inputFile != null) {
                    throw new CliException("Unexpected fields for " + (sel == 0 ? "Suspend" : "Resume")
                            + " (--csuuidi, --csvi, --seq-ind, --offset, --numd and --input-file belong to Set Controller State)");
                }
                if (sel == 1 && (stype != 0 || dudmq)) throw new CliException("Unexpected fields for Resume (--stype, --dudmq)");
                selName = sel == 0 ? "Suspend" : "Resume";
                var cmd = sel == 0 ? new MigrationSendCommand.Suspend(cntl, field("--stype", stype, 8), dudmq, ui)
                        : new MigrationSendCommand.Resume(cntl, ui);
                return new Prepared(cmd.toSqe(), 0, null);
            }
            case 2 -> {
                selName = "Set Controller State";
                if (stype != 0 || dudmq) throw new CliException("Unexpected fields for Set Controller State (--stype, --dudmq)");
                int seq = field("--seq-ind", seqInd, 2);
                // NVMe Base 2.1, section 5.1.17.1.3: the command that ends a sequence may carry no
                // data; it commits what came before (the controller accepts it likewise)
                if (numd != null && numd == 0 && inputFile == null
                        && (seq == MigrationSendCommand.SEQIND_LAST || seq == MigrationSendCommand.SEQIND_MIDDLE)) {
                    var cmd = new MigrationSendCommand.SetControllerState(cntl, seq, field("--csvi", csvi, 8),
                            field("--csuuidi", csuuidi, 8), offset, ui, 0);
                    return new Prepared(cmd.toSqe(), 0, null);
                }
                if (inputFile == null) throw new CliException("Set Controller State requires --input-file FILE (or --numd=0 with --seq-ind=2 to end a sequence)");
                byte[] state;
                try {
                    state = Files.readAllBytes(inputFile);
                } catch (IOException e) {
                    throw new CliException("cannot read --input-file " + inputFile + ": " + e.getMessage());
                }
                long dwords = numd != null ? field("--numd", numd, 32) & 0xffffffffL : state.length / 4;
                if (numd == null && state.length % 4 != 0) {
                    throw new CliException("--input-file " + inputFile + " has " + state.length + " bytes, not a whole number of dwords");
                }
                if (dwords == 0) throw new CliException("nothing to send: --input-file is empty or --numd=0 (only a command that ends a sequence, --seq-ind=2, may carry no data)");
                if (dwords * 4 > state.length) {
                    throw new CliException("failed to read controller state data: " + inputFile + " has " + state.length
                            + " bytes, --numd=" + dwords + " needs " + dwords * 4);
                }
                byte[] data = java.util.Arrays.copyOf(state, (int) (dwords * 4));
                var cmd = new MigrationSendCommand.SetControllerState(cntl, seq,
                        field("--csvi", csvi, 8), field("--csuuidi", csuuidi, 8), offset, ui, (int) dwords);
                return new Prepared(cmd.toSqe(), data.length, data);
            }
            default -> throw new CliException("--sel=" + sel + " is not defined (0 Suspend, 1 Resume, 2 Set Controller State)");
        }
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("result", "success", "operation", selName)));
        else out().println("Migration Send (" + selName + ") Successful");
    }
}
