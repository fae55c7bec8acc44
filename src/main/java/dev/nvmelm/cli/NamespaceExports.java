package dev.nvmelm.cli;

import dev.nvmelm.embedded.DeviceServer;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.block.NvmeBlockDevice;
import dev.nvmelm.nbd.BlockDeviceExport;
import dev.nvmelm.nbd.NbdExport;
import dev.nvmelm.nbd.NbdServer;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The NBD face of a served subsystem: one export per namespace of each migratable controller. */
final class NamespaceExports {
    private NamespaceExports() {}

    /**
     * Export c<C>n<N>: NBD requests become NVMe I/O on MC C's own I/O queues, so the CDQ logs them.
     * With {@code trackers} (one per MC, see {@link DirtyTracker}), each export also answers the
     * {@code nvme-lm:dirty} context.
     */
    static List<NbdExport> of(DeviceServer server, List<DirtyTracker> trackers) throws NvmeException {
        List<NbdExport> out = new ArrayList<>();
        var config = server.subsystem().config();
        for (int c = 1; c <= config.migratable(); c++) {
            DirtyTracker t = trackers.isEmpty() ? null : trackers.get(c - 1);
            for (int n = 1; n <= config.namespacesPerController(); n++) {
                int nsid = n;
                out.add(new BlockDeviceExport("c" + c + "n" + n, new LazyNamespace(server, c, n), t == null ? null : () -> t.map(nsid)));
            }
        }
        return out;
    }

    static List<NbdExport> of(DeviceServer server) throws NvmeException {
        return of(server, List.of());
    }

    static List<String> listen(NbdServer nbd, String address) throws IOException {
        return listen(nbd, address, null);
    }

    /**
     * Listens on {@code unix:PATH} or {@code tcp:HOST:PORT} and returns the export URIs. With
     * {@code tls} TCP listeners require STARTTLS (nbds:// URIs); without it TCP is loopback only.
     * Unix sockets stay plaintext (local, guarded by file permissions).
     */
    static List<String> listen(NbdServer nbd, String address, javax.net.ssl.SSLContext tls) throws IOException {
        return listen(nbd, address, tls, nbd.exportNames());
    }

    /** As above, the URIs naming {@code names} (for exports that come and go: a placeholder). */
    static List<String> listen(NbdServer nbd, String address, javax.net.ssl.SSLContext tls, List<String> names) throws IOException {
        List<String> uris = new ArrayList<>();
        if (address.startsWith("unix:")) {
            Path p = Path.of(address.substring(5)).toAbsolutePath();
            nbd.listen(UnixDomainSocketAddress.of(p));
            for (String e : names) uris.add("nbd+unix:///" + e + "?socket=" + p);
        } else if (address.startsWith("tcp:")) {
            InetSocketAddress parsed;
            try {
                parsed = dev.nvmelm.net.agent.Transport.parse(address.substring(4));
            } catch (IllegalArgumentException e) {
                throw new CliException("--nbd " + address + ": " + e.getMessage());
            }
            if (parsed.isUnresolved()) throw new CliException("--nbd " + address + ": cannot resolve " + parsed.getHostString());
            int port = parsed.getPort();
            InetAddress ip = parsed.getAddress();
            if (!ip.isLoopbackAddress() && tls == null) {
                throw new CliException("--nbd " + address + ": NBD over a non-loopback address needs TLS (--tls-cert, --tls-key, --tls-ca); or use unix:PATH or tcp:127.0.0.1:PORT");
            }
            var bound = (InetSocketAddress) nbd.listen(new InetSocketAddress(ip, port), tls);
            String h = bound.getAddress().getHostAddress();
            if (h.contains(":")) h = "[" + h + "]";
            for (String e : names) uris.add((tls != null ? "nbds://" : "nbd://") + h + ":" + bound.getPort() + "/" + e);
        } else {
            throw new CliException("--nbd " + address + ": expected unix:PATH or tcp:HOST:PORT");
        }
        return uris;
    }
}
