/* SPDX-License-Identifier: Apache-2.0 */
// A real Apache Curator 5.4 peer for tests/cli/test_interop.sh: registers
// instances the ways Curator users do, and reads zkdisc's the ways Curator
// readers do. Compiled with javac against Debian's jars at test time.
//
//   CuratorPeer CONNECT BASE register    registers the fixture instances, prints
//                                        "ready", holds them until stdin closes
//   CuratorPeer CONNECT BASE CMD [+ CMD ...]   reader commands, in one JVM:
//     query SVC        queryForInstances (Map payload)
//     cache SVC        a started ServiceCache's instances
//     provider SVC N   N round-robin getInstance ids
//     typed SVC        queryForInstances with a typed payload class
//
// Readers print one line per instance, starting with the command's name:
// CMD id address port sslPort enabled payload.
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.*;
import org.apache.curator.framework.*;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.x.discovery.*;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;

public class CuratorPeer {
    /** A typed payload, as a Curator user with a payload class has one. */
    public static class Details {
        public int weight;
        public String zone;
    }

    static final ObjectMapper JSON = new ObjectMapper();

    static <T> ServiceDiscovery<T> discovery(CuratorFramework c, String base, Class<T> type,
                                             boolean compat) throws Exception {
        ServiceDiscovery<T> d = ServiceDiscoveryBuilder.builder(type).client(c).basePath(base)
                .serializer(new JsonInstanceSerializer<>(type, compat)).build();
        d.start();
        return d;
    }

    static String line(ServiceInstance<?> i) throws Exception {
        return i.getId() + " " + i.getAddress() + " " + i.getPort() + " " + i.getSslPort() + " "
                + i.isEnabled() + " " + JSON.writeValueAsString(i.getPayload());
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    static void register(CuratorFramework c, String base) throws Exception {
        ServiceDiscovery<Map> compat = discovery(c, base, Map.class, true);
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("weight", 30);
        p.put("zone", "eu-1");
        compat.registerService(ServiceInstance.<Map>builder().name("jmap").id("j-map")
                .address("10.1.0.1").port(8001).payload(p).build());
        compat.registerService(ServiceInstance.<Map>builder().name("jnull").id("j-null")
                .address("10.1.0.2").port(8002).build());
        compat.registerService(ServiceInstance.<Map>builder().name("jssl").id("j-ssl")
                .address("10.1.0.3").sslPort(8443)
                .uriSpec(new UriSpec("{scheme}://{address}:{ssl-port}")).build());
        compat.registerService(ServiceInstance.<Map>builder().name("seqsvc").id("q1")
                .address("10.1.0.4").port(8004).serviceType(ServiceType.DYNAMIC_SEQUENTIAL)
                .build());
        // A non-compatible serializer writes "enabled" (false here) itself.
        ServiceDiscovery<Map> modern = discovery(c, base, Map.class, false);
        modern.registerService(ServiceInstance.<Map>builder().name("jdis").id("j-dis")
                .address("10.1.0.5").port(8005).enabled(false).build());
        System.out.println("ready");
        System.out.flush();
        while (System.in.read() >= 0) {
        }
        modern.close();
        compat.close();
    }

    /** One reader command; every line it prints starts with the command's name. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    static void read(CuratorFramework c, String base, List<String> a) throws Exception {
        String cmd = a.get(0), svc = a.get(1), tag = cmd + " ";
        if (cmd.equals("query")) {
            for (ServiceInstance<Map> i : discovery(c, base, Map.class, true).queryForInstances(svc))
                System.out.println(tag + line(i));
        } else if (cmd.equals("typed")) {
            try {
                for (ServiceInstance<Details> i :
                         discovery(c, base, Details.class, true).queryForInstances(svc))
                    System.out.println(tag + i.getId() + " weight=" + i.getPayload().weight
                                       + " zone=" + i.getPayload().zone);
            } catch (Exception e) {
                System.out.println(tag + "error " + e.getClass().getSimpleName());
            }
        } else if (cmd.equals("cache")) {
            ServiceCache<Map> cache = discovery(c, base, Map.class, true).serviceCacheBuilder()
                    .name(svc).build();
            cache.start();
            for (ServiceInstance<Map> i : cache.getInstances())
                System.out.println(tag + line(i));
            cache.close();
        } else if (cmd.equals("provider")) {
            ServiceProvider<Map> sp = discovery(c, base, Map.class, true).serviceProviderBuilder()
                    .serviceName(svc).build();
            sp.start();
            for (int n = Integer.parseInt(a.get(2)); n > 0; n--) {
                ServiceInstance<Map> i = sp.getInstance();
                System.out.println(tag + (i == null ? "none" : i.getId()));
            }
            sp.close();
        } else {
            throw new IllegalArgumentException("unknown command " + cmd);
        }
    }

    public static void main(String[] a) throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.newClient(a[0], 10000, 5000, new RetryOneTime(500));
        c.start();
        c.blockUntilConnected();
        if (a[2].equals("register")) {
            register(c, a[1]);
        } else { // reader commands separated by "+": one JVM start for several
            List<String> cmd = new ArrayList<>();
            for (int k = 2; k <= a.length; k++) {
                if (k == a.length || a[k].equals("+")) {
                    read(c, a[1], cmd);
                    cmd.clear();
                } else {
                    cmd.add(a[k]);
                }
            }
        }
        c.close();
    }
}
