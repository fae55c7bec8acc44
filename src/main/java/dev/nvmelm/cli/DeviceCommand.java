package dev.nvmelm.cli;

import dev.nvmelm.util.Json;
import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.spec.Fields;
import dev.nvmelm.spec.Sqe;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A command that sends one admin command to a device: build the SQE (validating every field),
 * then either print it (--dry-run) or send it and report the completion.
 */
abstract class DeviceCommand extends CliCommand {
    @Parameters(index = "0", paramLabel = "<device>",
            description = "NVMe device: /dev/nvmeX (Linux), sim:DIR/ctl.sock[#CNTLID] (served software controller)")
    String device;



    /** The command to send, the length of its data buffer and what to put in it (null = zeroes). */
    record Prepared(Sqe sqe, long dataLen, byte[] input) {}


    abstract Prepared prepare() throws IOException;

    /** Called with the successful completion and the data buffer (null without data). */
    abstract void report(Completion c, MemorySegment data, OutputFormat format) throws IOException;

    String what() {
        return spec.name();
    }

    @Override
    public Integer call() throws Exception {
        OutputFormat format = g.format();
        Prepared p = prepare();
        if (g.dryRun()) {
            printDryRun(p, format);
            return 0;
        }
        try (NvmeDevice dev = DeviceOpener.open(device, g)) {
            execute(dev, p, format);
        }
        return 0;
    }

    void execute(NvmeDevice dev, Prepared p, OutputFormat format) throws Exception {
        MemorySegment buf = p.dataLen() > 0 ? dev.allocateBuffer(p.dataLen()) : null;
        if (p.input() != null) MemorySegment.copy(p.input(), 0, buf, ValueLayout.JAVA_BYTE, 0, p.input().length);
        Completion c = dev.admin(p.sqe(), buf).orThrow(what());
        report(c, buf, format);
    }

    void printDryRun(Prepared p, OutputFormat format) throws IOException {
        switch (format) {
            case JSON -> out().println(Json.pretty(SqePrinter.toJson(p.sqe(), p.dataLen())));
            case BINARY -> writeBinary(p.sqe().toBytes());
            case NORMAL -> out().print(SqePrinter.toText(p.sqe(), p.dataLen()));
        }
    }


    void writeBinary(byte[] bytes) throws IOException {
        out().flush();
        OutputStream os = System.out;
        os.write(bytes);
        os.flush();
    }

    /** Range-checks an option before it is narrowed, naming the option in the error. */
    static int field(String option, long value, int bits) {
        return Fields.u(option, value, bits);
    }
}
