package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.spec.TrackSendCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.foreign.MemorySegment;
import java.util.Map;

@Command(name = "track-send", mixinStandardHelpOptions = true, description = "Track Send Command")
final class LmTrackSend extends DeviceCommand {
    @Option(names = {"-s", "--sel"}, converter = Numbers.class,
            description = "Select: 0 = Log User Data Changes, 1 = Track Memory Changes")
    Long sel;

    @Option(names = {"-m", "--mos"}, converter = Numbers.class, defaultValue = "0", description = "Management Operation Specific")
    long mos;

    @Option(names = {"-C", "--cdqid"}, converter = Numbers.class, defaultValue = "0", description = "Controller Data Queue ID")
    long cdqid;

    @Option(names = "--start", description = "Start logging (MOS.LACT = 1)")
    boolean start;

    @Option(names = "--stop", description = "Stop logging (MOS.LACT = 0)")
    boolean stop;

    @Override
    Prepared prepare() {
        if (sel == null) throw new CliException("Select field required (--sel)");
        if (sel == TrackSendCommand.SEL_TRACK_MEMORY) throw new CliException("Unsupported select option 1 (Track Memory Changes)");
        if (sel != TrackSendCommand.SEL_LOG_USER_DATA) throw new CliException("--sel=" + sel + " is not defined (0 = Log User Data Changes)");
        if (start && stop) throw new CliException("Must select one of start & stop, not both");
        int mosValue = field("--mos", mos, 16);
        if ((mosValue & ~0xf) != 0) throw new CliException("--mos=" + mos + " sets reserved bits (only MOS[3:0] LACT is defined)");
        int lact = start ? TrackSendCommand.LACT_START : stop ? TrackSendCommand.LACT_STOP : mosValue;
        return new Prepared(new TrackSendCommand(sel.intValue(), lact, field("--cdqid", cdqid, 16)).toSqe(), 0, null);
    }

    @Override
    void report(Completion c, MemorySegment data, OutputFormat format) {
        if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("result", "success")));
        else out().println("Track Send (Log User Data Changes) Successful");
    }
}
