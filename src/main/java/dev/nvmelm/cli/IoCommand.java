package dev.nvmelm.cli;

import dev.nvmelm.host.Completion;
import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.IdentifyNamespace;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * {@code nvme-lm io read|write|write-zeroes|dsm}: one NVM command through an I/O queue of the
 * addressed controller. As in nvme-cli, --block-count is 0's based (the NLB field).
 */
@Command(name = "io", mixinStandardHelpOptions = true, description = "NVM I/O commands through an I/O queue pair",
        subcommands = {IoCommand.Read.class, IoCommand.Write.class, IoCommand.WriteZeroes.class, IoCommand.Dsm.class})
final class IoCommand {
    /** Largest transfer one CLI command moves (a served device's buffer limit is 64 MiB). */
    static final long MAX_TRANSFER_BYTES = 32L << 20;

    abstract static class Base extends DeviceCommand {
        @Option(names = {"-n", "--namespace-id"}, converter = Numbers.class, required = true, description = "Namespace ID")
        long nsid;

        @Option(names = {"-s", "--start-block"}, converter = Numbers.class, required = true, description = "Starting LBA (SLBA)")
        long slba;

        @Option(names = {"-c", "--block-count"}, converter = Numbers.class, required = true, description = "Number of blocks, 0's based (NLB)")
        long nlb;

        /** Read and write: nvme-cli's -z/--data-size, the data buffer's size in bytes (0 = the blocks' size). */
        long dataSizeOption() {
            return 0;
        }

        /** The buffer as nvme-cli sizes it: --data-size, rounded up (with nvme-cli's message) to fit the blocks. */
        long bufferBytes(long transferBytes) {
            long z = dataSizeOption();
            if (z == 0) return transferBytes;
            if (z < transferBytes) spec.commandLine().getErr().printf("Rounding data size to fit block count (%d bytes)%n", transferBytes);
            return Math.max(z, transferBytes);
        }

        int nsidField() {
            return field("--namespace-id", nsid, 32);
        }

        long blocks() {
            return field("--block-count", nlb, 16) + 1L;
        }

        @Override
        Prepared prepare() throws IOException {
            return new Prepared(sqe(0), 0, null);
        }

        /** The command for a namespace with {@code lbaSizeBytes} (0 when only printing it). */
        abstract Sqe sqe(int lbaSizeBytes);

        /** Bytes of data the command moves for this LBA size (0 for none). */
        long dataBytes(int lbaSizeBytes) {
            return 0;
        }

        @Override
        void execute(NvmeDevice dev, Prepared p, OutputFormat format) throws Exception {
            int lba = dataBytes(1) > 0 ? lbaSize(dev) : 0;
            long len = dataBytes(lba);
            if (len > MAX_TRANSFER_BYTES) throw new CliException(String.format("%d blocks of %d bytes is more than one command moves here (%d MiB); split it", blocks(), lba, MAX_TRANSFER_BYTES >> 20));
            MemorySegment buf = len > 0 ? dev.allocateBuffer(len) : null;
            fill(buf);
            bufferBytes(len);   // only the message: the command moves exactly the blocks
            Completion c = dev.io(sqe(lba), buf).orThrow(what());
            report(c, buf, format);
        }

        void fill(MemorySegment buf) throws IOException {}

        /** The namespace's LBA size from Identify Namespace on the addressed controller. */
        int lbaSize(NvmeDevice dev) throws Exception {
            MemorySegment id = dev.allocateBuffer(IdentifyNamespace.SIZE);
            dev.admin(new AdminCommands.Identify(AdminCommands.CNS_NAMESPACE, 0, nsidField(), 0).toSqe(), id).orThrow("Identify Namespace " + nsid);
            IdentifyNamespace ns = IdentifyNamespace.decode(id);
            if (ns.nsze() == 0) throw new CliException("namespace " + nsid + " does not exist on " + device);
            return ns.lbaSizeBytes();
        }

        @Override
        void report(Completion c, MemorySegment data, OutputFormat format) throws IOException {
            if (format == OutputFormat.JSON) out().println(Json.pretty(Map.of("result", "success", "nsid", nsid, "slba", slba, "nlb", nlb)));
            else out().println(spec.name() + ": Success");
        }
    }

    @Command(name = "read", mixinStandardHelpOptions = true, description = "Read blocks (to --data FILE, raw with -o binary, else a hex dump)")
    static final class Read extends Base {
        @Option(names = {"-d", "--data"}, paramLabel = "FILE", description = "Write the data read to FILE")
        Path data;

        @Option(names = {"-z", "--data-size"}, paramLabel = "BYTES", converter = Numbers.Size.class, defaultValue = "0",
                description = "Size of the data buffer, as in nvme-cli: rounded up to the blocks' size; a larger buffer is written out zero-padded")
        long dataSize;

        @Override
        long dataSizeOption() {
            return dataSize;
        }

        @Override
        Sqe sqe(int lbaSizeBytes) {
            return IoCommands.read(nsidField(), slba, blocks()).toSqe();
        }

        @Override
        long dataBytes(int lbaSizeBytes) {
            return blocks() * lbaSizeBytes;
        }

        @Override
        void report(Completion c, MemorySegment buf, OutputFormat format) throws IOException {
            byte[] bytes = java.util.Arrays.copyOf(buf.toArray(ValueLayout.JAVA_BYTE), (int) Math.max(dataSize, buf.byteSize()));
            if (data != null) Files.write(data, bytes);
            if (format == OutputFormat.BINARY) {
                writeBinary(bytes);
            } else if (format == OutputFormat.JSON) {
                CRC32C crc = new CRC32C();
                crc.update(bytes);
                out().println(Json.pretty(Map.of("result", "success", "nsid", nsid, "slba", slba, "nlb", nlb,
                        "bytes", bytes.length, "crc32c", String.format("0x%08x", crc.getValue()))));
            } else if (data == null) {
                hexDump(bytes);
            } else {
                out().println("read: Success");
            }
        }

        private void hexDump(byte[] b) {
            HexFormat hex = HexFormat.of();
            for (int off = 0; off < b.length; off += 16) {
                StringBuilder ascii = new StringBuilder();
                StringBuilder sb = new StringBuilder(String.format("%08x: ", off));
                for (int i = off; i < off + 16; i++) {
                    sb.append(hex.toHexDigits(b[i])).append(i % 2 == 1 ? " " : "");
                    ascii.append(b[i] >= 0x20 && b[i] < 0x7f ? (char) b[i] : '.');
                }
                out().println(sb.append(' ').append(ascii));
            }
        }
    }

    @Command(name = "write", mixinStandardHelpOptions = true, description = "Write blocks from --data FILE or a --pattern byte")
    static final class Write extends Base {
        @Option(names = {"-d", "--data"}, paramLabel = "FILE", description = "Data to write (exactly the blocks' size, or --data-size bytes of it)")
        Path data;

        @Option(names = {"-z", "--data-size"}, paramLabel = "BYTES", converter = Numbers.Size.class, defaultValue = "0",
                description = "Bytes to take from --data FILE, as in nvme-cli: the rest of the blocks is zeroes, and more than the blocks hold is refused")
        long dataSize;

        @Override
        long dataSizeOption() {
            return dataSize;
        }

        @Option(names = {"-p", "--pattern"}, converter = Numbers.class, description = "Fill every byte with this value")
        Long pattern;

        @Option(names = "--fua", description = "Force Unit Access")
        boolean fua;

        @Override
        Prepared prepare() throws IOException {
            if ((data == null) == (pattern == null)) throw new CliException("give exactly one of --data FILE and --pattern BYTE");
            if (pattern != null && pattern > 0xff) throw new CliException("--pattern=" + pattern + " is not a byte (0..0xff)");
            return super.prepare();
        }

        @Override
        Sqe sqe(int lbaSizeBytes) {
            return IoCommands.write(nsidField(), slba, blocks(), fua).toSqe();
        }

        @Override
        long dataBytes(int lbaSizeBytes) {
            return blocks() * lbaSizeBytes;
        }

        @Override
        void fill(MemorySegment buf) throws IOException {
            if (pattern != null) {
                buf.fill((byte) pattern.longValue());
                return;
            }
            if (!Files.isRegularFile(data)) throw new CliException("--data " + data + ": no such file");
            long size = Files.size(data);
            if (dataSize > 0) {
                if (dataSize > buf.byteSize()) {
                    throw new CliException(String.format("--data-size %d is more than %d blocks hold (%d bytes)", dataSize, blocks(), buf.byteSize()));
                }
                if (size < dataSize) throw new CliException(String.format("--data %s has %d bytes; --data-size asks for %d", data, size, dataSize));
                buf.fill((byte) 0);
                try (var in = Files.newInputStream(data)) {
                    MemorySegment.copy(in.readNBytes((int) dataSize), 0, buf, ValueLayout.JAVA_BYTE, 0, (int) dataSize);
                }
                return;
            }
            if (size != buf.byteSize()) throw new CliException(String.format("--data %s has %d bytes; %d blocks need exactly %d", data, size, blocks(), buf.byteSize()));
            MemorySegment.copy(Files.readAllBytes(data), 0, buf, ValueLayout.JAVA_BYTE, 0, (int) size);
        }
    }

    @Command(name = "write-zeroes", mixinStandardHelpOptions = true, description = "Write Zeroes (optionally deallocating)")
    static final class WriteZeroes extends Base {
        @Option(names = {"-D", "--deallocate"}, description = "Deallocate the blocks (DEAC)")
        boolean deallocate;

        @Override
        Sqe sqe(int lbaSizeBytes) {
            return new IoCommands.WriteZeroes(nsidField(), slba, (int) (blocks() - 1), deallocate).toSqe();
        }
    }

    @Command(name = "dsm", mixinStandardHelpOptions = true, description = "Dataset Management: deallocate one range")
    static final class Dsm extends Base {
        @Override
        Prepared prepare() {
            return new Prepared(sqe(0), IoCommands.DsmRange.SIZE, null);
        }

        @Override
        Sqe sqe(int lbaSizeBytes) {
            return new IoCommands.DatasetManagement(nsidField(), 1, true).toSqe();
        }

        @Override
        long dataBytes(int lbaSizeBytes) {
            return IoCommands.DsmRange.SIZE;
        }

        @Override
        void execute(NvmeDevice dev, Prepared p, OutputFormat format) throws Exception {
            MemorySegment buf = dev.allocateBuffer(IoCommands.DsmRange.SIZE);
            IoCommands.encodeRanges(List.of(new IoCommands.DsmRange(slba, blocks())), buf);
            Completion c = dev.io(sqe(0), buf).orThrow(what());
            report(c, buf, format);
        }
    }
}
