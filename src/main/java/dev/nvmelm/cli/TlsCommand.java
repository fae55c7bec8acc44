package dev.nvmelm.cli;

import dev.nvmelm.net.tls.CertificateGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
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
            try {
                CertificateGenerator.generate(dir, cn, san, days);
            } catch (java.io.IOException | java.security.GeneralSecurityException e) {
                throw new CliException("tls gen: " + e.getMessage());
            }
            for (String f : CertificateGenerator.FILES) spec.commandLine().getOut().println(dir.resolve(f));
            return 0;
        }
    }
}
