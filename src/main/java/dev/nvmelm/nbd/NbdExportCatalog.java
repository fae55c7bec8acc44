package dev.nvmelm.nbd;

import java.util.List;

/**
 * The exports an {@link NbdServer} offers, looked up by name when a client asks for one: for
 * exports that come and go while the server runs (a destination agent's migrations), and that
 * may be refused in the handshake with a reason the client is told.
 */
public interface NbdExportCatalog {
    /** The names NBD_OPT_LIST reports, in order. */
    List<String> names();

    /** The export named {@code name} (the empty name: the default, if there is one). */
    NbdExport find(String name) throws Refused;

    /** No export for that name now; the message goes to the client (NBD_REP_ERR_UNKNOWN). */
    final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }
    }

    /** A fixed set of exports; the empty name means the only one when there is exactly one. */
    static NbdExportCatalog of(List<NbdExport> exports) {
        java.util.Map<String, NbdExport> m = new java.util.LinkedHashMap<>();
        for (NbdExport e : exports) m.put(e.name(), e);
        return new NbdExportCatalog() {
            @Override
            public List<String> names() {
                return List.copyOf(m.keySet());
            }

            @Override
            public NbdExport find(String name) throws Refused {
                NbdExport e = m.get(name.isEmpty() && m.size() == 1 ? m.keySet().iterator().next() : name);
                if (e == null) throw new Refused("no export named '" + name + "'");
                return e;
            }
        };
    }
}
