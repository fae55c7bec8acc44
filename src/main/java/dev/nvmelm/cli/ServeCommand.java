package dev.nvmelm.cli;

import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.Transport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** {@code nvme-lm serve}: the destination agent (docs/network.md). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the destination agent that accepts live migrations over TLS 1.3 with mutual authentication.",
                "Each migration goes into a subsystem in DIR/<migration-id>/; at commit the agent applies the controller state, resumes it and from then on",
                "serves that subsystem as device serve does (sim:DIR/<migration-id>/ctl.sock). Runs until SIGINT or SIGTERM."})
final class ServeCommand extends CliCommand {
    /** Stands for the export name in the printed NBD URIs: each migration is exported under its id. */
    static final String MIGRATION_ID = "MIGRATION-ID";

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", description = "Address to listen on (port 0: any free port, printed)")
    String listen;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Where destination namespaces are created")
    Path dir;

    @Option(names = "--accept-compression", paramLabel = "LIST", defaultValue = "lz4,zstd",
            description = "Compressed DATA a source may send: a comma list of lz4, zstd, or none (default: ${DEFAULT-VALUE})")
    String acceptCompression;

    @Option(names = "--nbd", paramLabel = "unix:PATH|tcp:HOST:PORT",
            description = {"Also export each migration's namespace over NBD, named by its migration id (read-only until its commit; docs/vm.md);",
                    "repeatable. TCP uses the --tls-* set (clients do NBD_OPT_STARTTLS); with --insecure only on loopback"})
    java.util.List<String> nbd = new java.util.ArrayList<>();

    @Mixin
    TlsOptions tls;

    @Override
    public Integer call() throws Exception {
        Transport t = tls.transport();
        InetSocketAddress address;
        try {
            address = Transport.parse(listen);
        } catch (IllegalArgumentException e) {
            throw new CliException("--listen " + e.getMessage());
        }
        java.util.Set<dev.nvmelm.net.proto.Compression> accepts = java.util.EnumSet.noneOf(dev.nvmelm.net.proto.Compression.class);
        for (String c : acceptCompression.split(",", -1)) {
            try {
                accepts.add(dev.nvmelm.net.proto.Compression.parse(c.strip()));
            } catch (IllegalArgumentException e) {
                throw new CliException("--accept-compression " + e.getMessage());
            }
        }
        DestinationAgent agent;
        try {
            java.nio.file.Files.createDirectories(dir);
            java.nio.file.FileStore store = java.nio.file.Files.getFileStore(dir);
            agent = new DestinationAgent(t, address, AgentTarget.factory(dir), line -> { if (g.verbosity() > 0) System.err.println(line); },
                    dir.resolve("journal"), accepts, dev.nvmelm.net.agent.AgentLimits.DEFAULT, () -> {
                        try {
                            return store.getUsableSpace();
                        } catch (IOException e) {
                            return 0;   // cannot tell: admit nothing new
                        }
                    });
        } catch (IOException e) {
            throw new CliException("serve: " + e.getMessage());
        }
        dev.nvmelm.nbd.NbdServer nbdServer = null;
        java.util.List<String> uris = new java.util.ArrayList<>();
        if (!nbd.isEmpty()) {
            nbdServer = new dev.nvmelm.nbd.NbdServer(new MigrationExports(agent), line -> { if (g.verbosity() > 0) System.err.println(line); },
                    dev.nvmelm.nbd.NbdLimits.DEFAULT);
            try {
                javax.net.ssl.SSLContext nbdTls = tls.insecure ? null : TlsOptions.context(tls.cert, tls.key, tls.ca, "NBD TLS needs --tls-cert, --tls-key and --tls-ca");
                for (String at : nbd) uris.addAll(NamespaceExports.listen(nbdServer, at, nbdTls, java.util.List.of(MIGRATION_ID)));
            } catch (CliException | IOException e) {
                nbdServer.close();
                agent.close();
                throw e instanceof CliException c ? c : new CliException("serve --nbd: " + e.getMessage());
            }
        }
        CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        InetSocketAddress a = agent.address();
        out().println("listening on " + a.getAddress().getHostAddress() + ":" + a.getPort() + (tls.insecure ? " (plaintext, loopback)" : " (TLS 1.3, mutual authentication)"));
        for (String u : uris) out().println("nbd " + u);
        out().flush();
        stop.await();
        if (nbdServer != null) nbdServer.close();
        agent.close();
        return 0;
    }
}
