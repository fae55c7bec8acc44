package dev.nvmelm.cli;

import picocli.CommandLine.Option;

import javax.net.ssl.SSLContext;
import java.nio.file.Path;

/** TLS for {@code device serve --nbd tcp:...}: the same PEM files as {@code nvme-lm tls gen} makes for the agents. */
final class NbdTlsOptions {
    @Option(names = "--tls-cert", paramLabel = "FILE", description = "Server certificate (PEM) for NBD over TCP: clients must do NBD_OPT_STARTTLS")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The server certificate's private key (PEM)")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "The CA that must have signed every client's certificate (PEM)")
    Path ca;

    /** The server context, or null when no --tls-* option is given. */
    SSLContext context() {
        return TlsOptions.context(cert, key, ca, "NBD TLS needs --tls-cert, --tls-key and --tls-ca together");
    }
}
