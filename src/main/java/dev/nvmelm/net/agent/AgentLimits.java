package dev.nvmelm.net.agent;

/**
 * What the destination agent grants a peer before and after it has authenticated
 * (docs/network.md "Limits a hostile peer meets").
 *
 * @param handshakeMs        from accept to a HELLO read: the TLS handshake (client certificate checked) and the HELLO
 *                           together; a peer that is not through in time is cut, however slowly it keeps sending
 * @param idleMs             an authenticated connection that sends nothing for this long is closed (the migration
 *                           stays resumable)
 * @param maxPerPeer         connections open at once from one peer address, authenticated or not
 * @param maxUnauthenticated connections still in their handshake, from all peers together
 * @param releaseMs          a migration with no connection for this long closes its target (the subsystem's threads);
 *                           a source that comes back reopens it from the files
 */
public record AgentLimits(int handshakeMs, int idleMs, int maxPerPeer, int maxUnauthenticated, int releaseMs) {
    public static final AgentLimits DEFAULT = new AgentLimits(10_000, 600_000, 16, 64, 300_000);

    public AgentLimits {
        if (handshakeMs <= 0 || idleMs <= 0 || maxPerPeer <= 0 || maxUnauthenticated <= 0 || releaseMs <= 0) {
            throw new IllegalArgumentException("agent limits must be positive");
        }
    }
}
