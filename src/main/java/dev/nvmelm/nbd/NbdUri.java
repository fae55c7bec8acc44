package dev.nvmelm.nbd;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * An NBD URI as libnbd and QEMU write them: {@code nbd+unix:///EXPORT?socket=PATH},
 * {@code nbd://HOST[:PORT]/EXPORT}, {@code nbds://HOST[:PORT]/EXPORT} (TLS).
 */
public record NbdUri(SocketAddress address, String exportName, boolean tls, String text) {
    public static final int DEFAULT_PORT = 10809;

    public static boolean looksLikeNbd(String s) {
        return s.startsWith("nbd://") || s.startsWith("nbd+unix://") || s.startsWith("nbds://") || s.startsWith("nbds+unix://");
    }

    public static NbdUri parse(String s) {
        URI u;
        try {
            u = new URI(s);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("bad NBD URI '" + s + "': " + e.getMessage());
        }
        String scheme = u.getScheme();
        String path = u.getRawPath() == null ? "" : u.getRawPath();
        String export = URLDecoder.decode(path.startsWith("/") ? path.substring(1) : path, StandardCharsets.UTF_8);
        return switch (scheme) {
            case "nbd+unix", "nbds+unix" -> {
                String q = u.getRawQuery();
                String sock = null;
                if (q != null) for (String kv : q.split("&")) if (kv.startsWith("socket=")) sock = URLDecoder.decode(kv.substring(7), StandardCharsets.UTF_8);
                if (sock == null) throw new IllegalArgumentException("NBD URI '" + s + "' needs ?socket=PATH");
                yield new NbdUri(UnixDomainSocketAddress.of(sock), export, scheme.startsWith("nbds"), s);
            }
            case "nbd", "nbds" -> {
                if (u.getHost() == null) throw new IllegalArgumentException("NBD URI '" + s + "' has no host");
                int port = u.getPort() < 0 ? DEFAULT_PORT : u.getPort();
                yield new NbdUri(new InetSocketAddress(u.getHost(), port), export, scheme.equals("nbds"), s);
            }
            default -> throw new IllegalArgumentException("'" + s + "' is not an NBD URI (nbd://, nbds://, nbd+unix://)");
        };
    }
}
