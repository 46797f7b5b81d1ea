package cluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// NginxConfig is the load balancer's configuration for replicas at the
// given addresses: docs/deploy.md shows it (a test holds the two to each
// other) with the example addresses 10.0.0.11–13:8080.
func NginxConfig(replicas []string) string {
	var servers strings.Builder
	for _, a := range replicas {
		fmt.Fprintf(&servers, "    server %s max_fails=1 fail_timeout=2s;\n", a)
	}
	return `# Gatehouse replicas, round robin. A replica that refuses connections
# (stopped, crashed) is skipped for fail_timeout; GET and HEAD requests it
# could not answer are passed to the next one, and a POST is not (nginx
# never resends a request that may have changed something).
upstream gatehouse {
` + servers.String() + `    keepalive 32;
}

server {
    listen 443 ssl;
    ssl_certificate     /etc/ssl/gatehouse.pem;
    ssl_certificate_key /etc/ssl/gatehouse.key;
    client_max_body_size 8m;

    location / {
        proxy_pass http://gatehouse;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_next_upstream error timeout;
        proxy_connect_timeout 2s;
    }
}
`
}

const tlsLines = `    listen 443 ssl;
    ssl_certificate     /etc/ssl/gatehouse.pem;
    ssl_certificate_key /etc/ssl/gatehouse.key;
`

// ExampleReplicas are the addresses docs/deploy.md shows.
var ExampleReplicas = []string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"}

// Nginx is the load balancer process.
type Nginx struct {
	Addr   string
	prefix string
	cmd    *exec.Cmd
	out    bytes.Buffer
}

// URL is the load balancer's base URL.
func (n *Nginx) URL() string { return "http://" + n.Addr }

func findNginx() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx", nil
	}
	return "", ErrNoNginx
}

// startNginx runs nginx in front of the replicas with the configuration
// docs/deploy.md shows, on plain HTTP on the loopback interface.
func startNginx(prefix string, replicas []string) (*Nginx, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return StartNginx(prefix, addr, strings.NewReplacer(
		tlsLines, "    listen "+addr+";\n",
		// Which replica answered, for the tests.
		"proxy_pass http://gatehouse;", "proxy_pass http://gatehouse;\n        add_header X-Gatehouse-Replica $upstream_addr always;",
	).Replace(NginxConfig(replicas)))
}

// StartNginx runs nginx in the foreground, its files under prefix, with
// httpBlock (upstreams and servers, one listening on addr) as the content of
// its http block, and waits until addr accepts connections.
func StartNginx(prefix, addr, httpBlock string) (*Nginx, error) {
	bin, err := findNginx()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o700); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
%[2]s
}
`, prefix, httpBlock)
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	n := &Nginx{Addr: addr, prefix: prefix}
	n.cmd = exec.Command(bin, "-p", prefix, "-c", path)
	n.cmd.Stdout, n.cmd.Stderr = &n.out, &n.out
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return n, nil
		}
		if time.Now().After(deadline) {
			n.Stop()
			return nil, fmt.Errorf("nginx did not start: %s %s", n.out.String(), n.ErrorLog())
		}
	}
}

// Output is what nginx wrote to its standard output and error.
func (n *Nginx) Output() string { return n.out.String() }

// ErrorLog is nginx's error log.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.prefix, "logs", "error.log"))
	return string(b)
}

// Stop stops nginx.
func (n *Nginx) Stop() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(os.Interrupt)
		n.cmd.Wait()
		n.cmd = nil
	}
}
