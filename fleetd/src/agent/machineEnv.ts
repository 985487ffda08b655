/**
 * What every unit of a machine sees about where it runs, as on CoreOS: the machine's address in
 * COREOS_PUBLIC_IPV4 / COREOS_PRIVATE_IPV4 (CoreOS wrote them to /etc/environment, which fleet's
 * units read), and, when the cluster's registry is an etcd, that etcd in ETCDCTL_ENDPOINTS (etcdctl
 * v3, and v2's --endpoints) and ETCDCTL_PEERS (etcdctl v2's older name), so the article's
 * `etcdctl set /announce/… ${COREOS_PUBLIC_IPV4}:80 --ttl 60` finds both unchanged. A unit's own
 * Environment=/EnvironmentFile= win over these.
 */
export function machineEnvironment(publicIP: string, etcdEndpoints: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = { COREOS_PUBLIC_IPV4: publicIP, COREOS_PRIVATE_IPV4: publicIP };
  if (etcdEndpoints && etcdEndpoints.length > 0) {
    const urls = etcdEndpoints.map(e => (/^[a-z]+:\/\//i.test(e) ? e : `http://${e}`)).join(',');
    env.ETCDCTL_ENDPOINTS = urls;
    env.ETCDCTL_PEERS = urls;
  }
  return env;
}
