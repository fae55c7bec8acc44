package dev.nvmelm.cli;

import dev.nvmelm.nbd.NbdUri;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Refuses a migration whose source and destination are the same storage under two names: the
 * copy would overwrite what it reads, and a guest's writes would race the copier's on one medium.
 */
final class SameStorage {
    private SameStorage() {}

    /** The same file however it is named: symlink, hard link, relative path (device and inode, via isSameFile). */
    static void refuseFiles(Path source, Path dest) {
        if (!Files.exists(source) || !Files.exists(dest)) return;   // a destination still to be created is another file
        try {
            if (Files.isSameFile(source, dest)) {
                throw new CliException("--source-image " + source + " and --dest-image " + dest + " are the same file;"
                        + " a migration onto its own source would overwrite what it copies");
            }
        } catch (IOException e) {
            throw new CliException("cannot compare " + source + " and " + dest + ": " + FileErrors.describe(e));
        }
    }

    /** The same NBD export: one server (the same socket file, or one host and port) and one export name. */
    static void refuseExports(NbdUri source, NbdUri dest) {
        if (source.exportName().equals(dest.exportName()) && sameServer(source, dest)) {
            throw new CliException("--source " + source.text() + " and --dest " + dest.text() + " are the same NBD export;"
                    + " a migration onto its own source would overwrite what it copies");
        }
    }

    private static boolean sameServer(NbdUri a, NbdUri b) {
        if (a.address() instanceof UnixDomainSocketAddress x && b.address() instanceof UnixDomainSocketAddress y) {
            try {
                return Files.exists(x.getPath()) && Files.exists(y.getPath())
                        ? Files.isSameFile(x.getPath(), y.getPath())
                        : x.getPath().toAbsolutePath().normalize().equals(y.getPath().toAbsolutePath().normalize());
            } catch (IOException e) {
                return false;   // the connect reports it
            }
        }
        if (a.address() instanceof InetSocketAddress x && b.address() instanceof InetSocketAddress y) {
            if (x.getPort() != y.getPort()) return false;
            try {
                InetAddress p = InetAddress.getByName(x.getHostString()), q = InetAddress.getByName(y.getHostString());
                // a server on one port of this host answers on every loopback name (127.0.0.1, localhost, ::1)
                return p.equals(q) || (p.isLoopbackAddress() && q.isLoopbackAddress());
            } catch (UnknownHostException e) {
                return x.getHostString().equalsIgnoreCase(y.getHostString());
            }
        }
        return false;
    }
}
