package dev.nvmelm.bench;

import dev.nvmelm.block.FileBlockDevice;
import dev.nvmelm.migrate.copy.Copier;
import dev.nvmelm.nbd.FileExport;
import dev.nvmelm.nbd.NbdServer;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** nvme-lm's own ways of copying an image, measured beside the peers in {@code bench copy}. */
public final class OurContenders {
    private OurContenders() {}

    public static List<CopyScenario.Contender> all(Path workDir) {
        return List.of(new EngineCopy(), new ExportThroughNbdcopy(workDir));
    }

    /**
     * The migration engine's bulk copier, file to file: work units, requests in flight, holes and
     * zero blocks skipped (the destination starts empty), as in a migration's bulk phase. The
     * scenario makes every contender's copy durable the same way, so no flush here.
     */
    static final class EngineCopy implements CopyScenario.Contender {
        @Override
        public String name() {
            return "nvme-lm copier";
        }

        @Override
        public double copy(Path src, Path dst) throws IOException {
            long start = System.nanoTime();
            try (FileBlockDevice s = FileBlockDevice.openExisting(src, 4096, false);
                 FileBlockDevice d = FileBlockDevice.createOrReuse(dst, Files.size(src), 4096)) {
                new Copier(s, d, Copier.Config.defaults().withDestinationIsZero(true), new Copier.Progress(), System::nanoTime).bulk();
            }
            return (System.nanoTime() - start) / 1e9;
        }
    }

    /** Our NBD server exporting the source, read by nbdcopy: compares our server with qemu-nbd as a source. */
    static final class ExportThroughNbdcopy implements CopyScenario.Contender {
        private final Path workDir;

        ExportThroughNbdcopy(Path workDir) {
            this.workDir = workDir;
        }

        @Override
        public String name() {
            return "nbdcopy (nvme-lm NBD source)";
        }

        @Override
        public double copy(Path src, Path dst) throws IOException {
            Path sock = workDir.resolve("nvme-lm-nbd.sock");
            try (FileExport e = new FileExport("src", src, true); NbdServer server = new NbdServer(List.of(e), line -> {})) {
                server.listen(UnixDomainSocketAddress.of(sock));
                return Tools.runOk(List.of("nbdcopy", "nbd+unix:///src?socket=" + sock, dst.toString()), Duration.ofMinutes(30)).seconds();
            }
        }
    }
}
