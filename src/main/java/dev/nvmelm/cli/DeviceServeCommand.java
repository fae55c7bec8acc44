package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.DeviceServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.nvmelm.nbd.NbdServer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** {@code nvme-lm device serve}: the software subsystem as {@code sim:} devices on a Unix socket. */
@Command(name = "device", mixinStandardHelpOptions = true, description = "The software NVMe subsystem",
        subcommands = DeviceServeCommand.Serve.class)
final class DeviceServeCommand {

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = {"Serve a software NVM subsystem (MMC CNTLID 0, migratable controllers 1..K) on DIR/ctl.sock.",
                    "Prints its device string sim:DIR/ctl.sock first; runs until SIGINT/SIGTERM, then flushes and exits 0."})
    static final class Serve extends CliCommand {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Namespace files (c<C>n<N>.img), the socket and host memory live here")
        Path dir;

        @Option(names = "--ns-size", converter = Numbers.Size.class, defaultValue = "1G", description = "Size of each new namespace (default: ${DEFAULT-VALUE}); existing files are reused")
        long nsSizeBytes;

        @Option(names = "--namespaces", defaultValue = "1", description = "Namespaces per migratable controller (default: ${DEFAULT-VALUE})")
        int namespaces;

        @Option(names = "--migratable", defaultValue = "2", description = "Migratable controllers K (default: ${DEFAULT-VALUE})")
        int migratable;

        @Option(names = "--lba-size", defaultValue = "4096", description = "LBA size, 512 or 4096 (default: ${DEFAULT-VALUE})")
        int lbaSizeBytes;

        @Option(names = "--host-memory", converter = Numbers.Size.class, defaultValue = "256M",
                description = {"Shared host memory for queues, buffers and CDQ rings (default: ${DEFAULT-VALUE}; at most 16G and the free",
                        "space of DIR's filesystem). The file DIR/hostmem is removed when the server exits"})
        long hostMemoryBytes;

        @Option(names = "--nbd", paramLabel = "unix:PATH|tcp:HOST:PORT",
                description = "Also export every namespace over NBD (export c<CNTLID>n<NSID>); repeatable. TCP needs --tls-* unless on loopback")
        List<String> nbd = new ArrayList<>();

        @picocli.CommandLine.Mixin
        NbdTlsOptions nbdTls;

        @Option(names = "--nbd-dirty", description = {"Track every migratable controller from start-up and offer the NBD context nvme-lm:dirty",
                "(what changed since then). Takes each MC's User Data Migration Queue: migrations need a server without it"})
        boolean nbdDirty;




        @Override
        public Integer call() throws Exception {
            if (lbaSizeBytes != 512 && lbaSizeBytes != 4096) throw new CliException("--lba-size must be 512 or 4096, not " + lbaSizeBytes);
            if (nsSizeBytes <= 0 || nsSizeBytes % lbaSizeBytes != 0) throw new CliException("--ns-size must be a positive multiple of the LBA size " + lbaSizeBytes);
            Subsystem.Config config;
            try {
                config = new Subsystem.Config(dir, nsSizeBytes, namespaces, migratable, lbaSizeBytes);
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage());
            }
            if (nbdDirty && nbd.isEmpty()) throw new CliException("--nbd-dirty needs --nbd");
            javax.net.ssl.SSLContext tls = nbdTls.context();
            if (tls != null && nbd.stream().noneMatch(a -> a.startsWith("tcp:"))) throw new CliException("--tls-* go with --nbd tcp:HOST:PORT");
            DeviceServer server;
            try {
                server = DeviceServer.start(config, hostMemoryBytes, g.verbosity() > 0 ? System.err : null);
            } catch (java.io.IOException | IllegalArgumentException e) {
                throw new CliException("device serve: " + e.getMessage());
            }
            NbdServer nbdServer = null;
            List<String> uris = new ArrayList<>();
            List<DirtyTracker> trackers = new ArrayList<>();
            try {
                if (!nbd.isEmpty()) {
                    if (nbdDirty) for (int c = 1; c <= migratable; c++) trackers.add(new DirtyTracker(server, c));
                    nbdServer = new NbdServer(NamespaceExports.of(server, trackers), line -> { if (g.verbosity() > 0) System.err.println(line); });
                    for (String a : nbd) uris.addAll(NamespaceExports.listen(nbdServer, a, tls));
                }
            } catch (CliException | java.io.IOException | dev.nvmelm.host.NvmeException | InterruptedException e) {
                if (nbdServer != null) nbdServer.close();
                for (DirtyTracker t : trackers) t.close();
                server.close();
                throw e instanceof CliException c ? c : new CliException("device serve --nbd: " + e.getMessage());
            }
            CountDownLatch stop = new CountDownLatch(1);
            Signals.onTermination(stop::countDown);
            spec.commandLine().getOut().println(server.deviceString());
            for (String u : uris) spec.commandLine().getOut().println(u);
            spec.commandLine().getOut().flush();
            stop.await();
            if (nbdServer != null) nbdServer.close();
            for (DirtyTracker t : trackers) {
                try {
                    t.close();
                } catch (dev.nvmelm.host.NvmeException e) {
                    System.err.println("nvme-lm: " + t + ": " + e.getMessage());
                }
            }
            server.close();
            return 0;
        }
    }
}
