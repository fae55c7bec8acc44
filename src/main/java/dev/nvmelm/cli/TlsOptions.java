package dev.nvmelm.cli;

import dev.nvmelm.net.agent.Transport;
import dev.nvmelm.net.tls.TlsConfig;
import picocli.CommandLine.Option;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.nio.file.Path;

/** TLS 1.3 with mutual authentication (the default), or plaintext on loopback with --insecure. */
final class TlsOptions {
    @Option(names = "--tls-cert", paramLabel = "FILE", description = "This side's certificate (PEM)")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "This side's private key (PEM)")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "The CA that signed the other side's certificate (PEM)")
    Path ca;

    @Option(names = "--insecure", description = "Plaintext TCP, allowed only on loopback addresses")
    boolean insecure;

    Transport transport() {
        boolean any = cert != null || key != null || ca != null;
        if (insecure && any) throw new CliException("--insecure and --tls-* exclude each other");
        if (insecure) return new Transport(null, true);
        if (cert == null || key == null || ca == null) {
            throw new CliException("TLS needs --tls-cert, --tls-key and --tls-ca (nvme-lm tls gen --dir D makes a set); --insecure only on loopback");
        }
        return new Transport(new TlsConfig(cert, key, ca), false);
    }

    /**
     * The SSL context of a PEM set given as options, for NBD's TLS (the agents use
     * {@link #transport}): null when none is given, a one-line error when only part of it is.
     */
    static SSLContext context(Path cert, Path key, Path ca, String incomplete) {
        if (cert == null && key == null && ca == null) return null;
        if (cert == null || key == null || ca == null) throw new CliException(incomplete + " (nvme-lm tls gen --dir D makes a set)");
        try {
            return new TlsConfig(cert, key, ca).context();
        } catch (IOException e) {
            throw new CliException(e.getMessage());
        }
    }
}
