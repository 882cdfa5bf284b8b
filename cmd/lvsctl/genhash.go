package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/lvsctl/lvsctl/healthcheck"
)

func genhashCommand() *cli.Command {
	return &cli.Command{
		Name:  "genhash",
		Usage: "print the MD5 digest of a URL's body, to paste into an HTTP_GET/SSL_GET digest",
		Description: "Fetches the URL exactly as the HTTP_GET/SSL_GET checker does (HTTP/1.0 GET, " +
			"no redirects, certificate not verified) and prints the MD5 of the body.\n\n" +
			"   lvsctl genhash --url http://10.16.8.8/index.html\n" +
			"   lvsctl genhash --url https://10.16.8.8:8443/health --virtualhost www.example.com --sni www.example.com",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Aliases: []string{"u"}, Required: true, Usage: "http:// or https:// URL to fetch", EnvVars: []string{"LVSCTL_GENHASH_URL"}},
			&cli.StringFlag{Name: "virtualhost", Usage: "Host header (default: the URL's host:port)", EnvVars: []string{"LVSCTL_GENHASH_VIRTUALHOST"}},
			&cli.StringFlag{Name: "sni", Usage: "TLS server name for https (default: none, like SSL_GET)", EnvVars: []string{"LVSCTL_GENHASH_SNI"}},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "connect and idle read timeout", EnvVars: []string{"LVSCTL_GENHASH_TIMEOUT"}},
			&cli.Int64Flag{Name: "max-body", Value: 64 << 20, Usage: "largest body to hash, in bytes", EnvVars: []string{"LVSCTL_GENHASH_MAX_BODY"}},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "also print the status and body size to stderr", EnvVars: []string{"LVSCTL_GENHASH_VERBOSE"}},
		},
		Action: func(c *cli.Context) error {
			u, err := url.Parse(c.String("url"))
			if err != nil {
				return cli.Exit(fmt.Sprintf("genhash: bad --url: %v", err), 2)
			}
			var tlsConf *tls.Config
			port := 80
			switch u.Scheme {
			case "http":
			case "https":
				port = 443
				tlsConf = &tls.Config{InsecureSkipVerify: true, ServerName: c.String("sni")} //nolint:gosec // SSL_GET does not verify either
			default:
				return cli.Exit(fmt.Sprintf("genhash: --url must be http:// or https://, not %q", u.Scheme), 2)
			}
			if p := u.Port(); p != "" {
				if port, err = strconv.Atoi(p); err != nil {
					return cli.Exit(fmt.Sprintf("genhash: bad port %q", p), 2)
				}
			}
			ip, err := netip.ParseAddr(u.Hostname())
			if err != nil {
				ips, lerr := net.DefaultResolver.LookupNetIP(c.Context, "ip", u.Hostname())
				if lerr != nil || len(ips) == 0 {
					return fmt.Errorf("genhash: resolve %s: %w", u.Hostname(), lerr)
				}
				ip = ips[0].Unmap()
			}
			remote := netip.AddrPortFrom(ip, uint16(port))
			host := c.String("virtualhost")
			if host == "" {
				host = u.Host
				if u.Port() == "" {
					host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
				}
			}
			path := u.RequestURI()
			timeout := c.Duration("timeout")
			resp, err := healthcheck.Fetch(c.Context, healthcheck.FetchRequest{
				Remote: remote, TLS: tlsConf, Request: healthcheck.BuildRequest(path, host),
				IdleTimeout: timeout, TotalTimeout: 10 * timeout, MaxBodyBytes: c.Int64("max-body"), Digest: true,
			})
			if err != nil {
				return fmt.Errorf("genhash: %s: %w", u, err)
			}
			if c.Bool("verbose") || resp.Status < 200 || resp.Status > 299 {
				fmt.Fprintf(c.App.ErrWriter, "%s: status %d, %d body bytes\n", u, resp.Status, resp.BodyBytes)
			}
			_, err = fmt.Fprintln(c.App.Writer, resp.Digest)
			return err
		},
	}
}
