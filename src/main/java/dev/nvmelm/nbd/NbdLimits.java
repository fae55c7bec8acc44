package dev.nvmelm.nbd;

/**
 * What one NBD server grants its peers, none of whom is authenticated on a plaintext listener
 * (docs/device.md "Limits a hostile client meets"): the heap held for request payloads and reply
 * data across all connections and per connection, how long a handshake and a started request may
 * take, and how many connections may be open.
 *
 * @param budgetBytes        payload and reply bytes held at once by all connections together
 * @param perConnectionBytes the share of that one connection may hold (its writes and its replies in flight)
 * @param chunkBytes         the most a payload or a reply is held in one piece
 * @param handshakeMs        from accept to the first request (option haggling, TLS included)
 * @param progressMs         a request whose header has started must arrive (each payload chunk) within this,
 *                           and a reply piece must be taken by the peer within this; an idle connection between
 *                           requests is never cut
 * @param maxConnections     open connections at once; more are accepted and closed at once
 */
public record NbdLimits(int budgetBytes, int perConnectionBytes, int chunkBytes, int handshakeMs, int progressMs, int maxConnections) {
    public static final NbdLimits DEFAULT = new NbdLimits(128 << 20, 16 << 20, 1 << 20, 30_000, 30_000, 256);

    public NbdLimits {
        if (chunkBytes < 4096 || perConnectionBytes < chunkBytes || budgetBytes < perConnectionBytes) {
            throw new IllegalArgumentException("need 4 KiB <= chunk <= per-connection <= budget bytes");
        }
        if (handshakeMs <= 0 || progressMs <= 0 || maxConnections <= 0) throw new IllegalArgumentException("timeouts and the connection bound must be positive");
    }
}
