package dev.nvmelm.cli;

import dev.nvmelm.net.tls.CertificateGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.nvmelm.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.ArrayList;
import java.util.List;

@Command(name = "tls", mixinStandardHelpOptions = true, description = "TLS certificates for the migration agents",
        subcommands = TlsCommand.Gen.class)
final class TlsCommand {

    @Command(name = "gen", mixinStandardHelpOptions = true,
            description = "Create a CA and a server and client certificate (PEM: ca.crt, server.crt, server.key, client.crt, client.key)")
    static final class Gen extends CliCommand {
        @Option(names = "--dir", required = true, paramLabel = "DIR", description = "Directory to write the PEM files into")
        Path dir;

        @Option(names = "--cn", defaultValue = "nvme-lm", description = "Common name (default: ${DEFAULT-VALUE})")
        String cn;

        @Option(names = "--san", paramLabel = "NAME", description = "Extra DNS name or IP the server certificate is valid for (repeatable); localhost, 127.0.0.1 and ::1 are always included")
        List<String> san = new ArrayList<>();

        @Option(names = "--days", defaultValue = "365", description = "Validity in days (default: ${DEFAULT-VALUE})")
        int days;




        @Override
        public Integer call() throws Exception {
            if (days < 1) throw new CliException("--days must be at least 1");
            for (String n : san) validateSan(n);   // before anything is written
            for (String f : CertificateGenerator.FILES) {
                if (Files.exists(dir.resolve(f))) throw new CliException("tls gen: " + dir.resolve(f) + " already exists; not overwriting it");
            }
            if (Files.exists(dir) && !Files.isDirectory(dir)) throw new CliException("tls gen: --dir " + dir + " is not a directory");
            List<String> written = CertificateGenerator.FILES.stream().map(f -> dir.resolve(f).toString()).toList();
            if (!g.dryRun()) {
                try {
                    Files.createDirectories(dir);
                    // generated next to DIR and moved in only when all five exist: a failure leaves no half set behind
                    Path staging = Files.createTempDirectory(dir.toAbsolutePath(), ".tls-gen-");
                    try {
                        CertificateGenerator.generate(staging, cn, san, days);
                        for (String f : CertificateGenerator.FILES) Files.move(staging.resolve(f), dir.resolve(f));
                    } finally {
                        BenchCommand.deleteTree(staging);
                    }
                } catch (java.io.IOException e) {
                    throw new CliException("tls gen: " + (e instanceof java.nio.file.FileSystemException f ? FileErrors.describe(f) : e.getMessage()));
                } catch (java.security.GeneralSecurityException e) {
                    throw new CliException("tls gen: " + e.getMessage());
                }
            }
            if (g.format() == OutputFormat.JSON) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("dry_run", g.dryRun());
                m.put("files", written);
                out().println(Json.pretty(m));
            } else {
                for (String f : written) out().println((g.dryRun() ? "would write " : "") + f);
            }
            return 0;
        }

        /** A server name is an IP literal or a DNS name (RFC 1123 labels); anything else is refused up front. */
        static void validateSan(String n) {
            if (n.matches("[0-9.]+|.*:.*")) {
                boolean literal = n.contains(":") ? n.matches("[0-9a-fA-F:.]+") : n.matches("(\\d{1,3}\\.){3}\\d{1,3}");
                try {
                    if (literal) {
                        java.net.InetAddress.ofLiteral(n);
                        return;
                    }
                } catch (IllegalArgumentException e) {
                    // refused below
                }
                throw new CliException("--san '" + n + "' is not an IP address");
            }
            if (n.length() > 253 || !n.matches("(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")) {
                throw new CliException("--san '" + n + "' is not a DNS name or IP address");
            }
        }
    }
}
