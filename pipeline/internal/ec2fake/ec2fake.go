// Package ec2fake is a stateful fake of the EC2 read APIs the policy audit uses
// (DescribeSubnets, DescribeRouteTables, DescribeSecurityGroups), speaking the EC2 Query
// protocol on a fakeaws server so the real aws-sdk-go-v2 EC2 client can be tested against it.
// Tests seed VPC state with AddSubnet, AddRouteTable and AddSecurityGroup.
package ec2fake

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"dagger/fargate/pipeline/internal/fakeaws"
)

// Subnet is a subnet of a VPC.
type Subnet struct {
	ID, VpcID, CIDR     string
	MapPublicIPOnLaunch bool
}

// Route is one route of a route table; Target is a gateway (igw-…, nat-…, local) or other target ID.
type Route struct {
	Destination string // IPv4 or IPv6 CIDR
	Target      string
}

// RouteTable is a route table with its subnet associations.
type RouteTable struct {
	ID, VpcID string
	Main      bool     // the VPC's main route table
	Subnets   []string // explicitly associated subnets
	Routes    []Route
}

// Permission is one ingress or egress rule.
type Permission struct {
	Protocol         string // "tcp", "udp", "icmp", "-1"
	FromPort, ToPort int32
	CIDRs            []string // IPv4 or IPv6 (contains ":")
	PrefixLists      []string
	Groups           []string
}

// SecurityGroup is a security group with its ingress rules.
type SecurityGroup struct {
	ID, Name, VpcID string
	Ingress         []Permission
	Egress          []Permission
}

// Fake holds the VPC state.
type Fake struct {
	mu      sync.Mutex
	subnets map[string]Subnet
	tables  map[string]RouteTable
	groups  map[string]SecurityGroup
}

// New registers the fake's operations on srv.
func New(srv *fakeaws.Server) *Fake {
	f := &Fake{subnets: map[string]Subnet{}, tables: map[string]RouteTable{}, groups: map[string]SecurityGroup{}}
	srv.HandleQuery("ec2", "DescribeSubnets", f.describeSubnets)
	srv.HandleQuery("ec2", "DescribeRouteTables", f.describeRouteTables)
	srv.HandleQuery("ec2", "DescribeSecurityGroups", f.describeSecurityGroups)
	return f
}

// AddSubnet stores a subnet.
func (f *Fake) AddSubnet(s Subnet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subnets[s.ID] = s
}

// AddRouteTable stores a route table.
func (f *Fake) AddRouteTable(rt RouteTable) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tables[rt.ID] = rt
}

// AddSecurityGroup stores a security group.
func (f *Fake) AddSecurityGroup(sg SecurityGroup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[sg.ID] = sg
}

// filters reads Filter.N.Name / Filter.N.Value.M.
func filters(form url.Values) map[string][]string {
	out := map[string][]string{}
	for i := 1; ; i++ {
		name := form.Get(fmt.Sprintf("Filter.%d.Name", i))
		if name == "" {
			return out
		}
		out[name] = append(out[name], fakeaws.QueryList(form, fmt.Sprintf("Filter.%d.Value", i))...)
	}
}

// missing is the error EC2 answers when any of ids is not a key of m (nil when all are).
func missing[V any](m map[string]V, ids []string, code, kind string) error {
	var absent []string
	for _, id := range ids {
		if _, ok := m[id]; !ok {
			absent = append(absent, id)
		}
	}
	if len(absent) > 0 {
		return fakeaws.Errorf(code, "The %s ID '%s' does not exist", kind, strings.Join(absent, ", "))
	}
	return nil
}

// selected returns the values of m whose keys are in ids (all of them when ids is empty),
// in key order.
func selected[V any](m map[string]V, ids []string) []V {
	var out []V
	for _, id := range slices.Sorted(maps.Keys(m)) {
		if len(ids) == 0 || slices.Contains(ids, id) {
			out = append(out, m[id])
		}
	}
	return out
}

func (f *Fake) describeSubnets(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := fakeaws.QueryList(form, "SubnetId")
	flt := filters(form)
	if err := missing(f.subnets, ids, "InvalidSubnetID.NotFound", "subnet"); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<subnetSet>")
	for _, s := range selected(f.subnets, ids) {
		if v, ok := flt["vpc-id"]; ok && !slices.Contains(v, s.VpcID) {
			continue
		}
		if v, ok := flt["subnet-id"]; ok && !slices.Contains(v, s.ID) {
			continue
		}
		fmt.Fprintf(&b, "<item><subnetId>%s</subnetId><vpcId>%s</vpcId><cidrBlock>%s</cidrBlock><state>available</state><mapPublicIpOnLaunch>%t</mapPublicIpOnLaunch></item>",
			x(s.ID), x(s.VpcID), x(s.CIDR), s.MapPublicIPOnLaunch)
	}
	b.WriteString("</subnetSet>")
	return b.String(), nil
}

func (f *Fake) describeRouteTables(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := fakeaws.QueryList(form, "RouteTableId")
	flt := filters(form)
	var b strings.Builder
	b.WriteString("<routeTableSet>")
	for _, rt := range selected(f.tables, ids) {
		if v, ok := flt["vpc-id"]; ok && !slices.Contains(v, rt.VpcID) {
			continue
		}
		if v, ok := flt["association.subnet-id"]; ok {
			match := false
			for _, s := range rt.Subnets {
				if slices.Contains(v, s) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		if v, ok := flt["association.main"]; ok && !slices.Contains(v, strconv.FormatBool(rt.Main)) {
			continue
		}
		fmt.Fprintf(&b, "<item><routeTableId>%s</routeTableId><vpcId>%s</vpcId><routeSet>", x(rt.ID), x(rt.VpcID))
		for _, r := range rt.Routes {
			dest := "destinationCidrBlock"
			if strings.Contains(r.Destination, ":") {
				dest = "destinationIpv6CidrBlock"
			}
			target := "gatewayId"
			switch {
			case strings.HasPrefix(r.Target, "nat-"):
				target = "natGatewayId"
			case strings.HasPrefix(r.Target, "tgw-"):
				target = "transitGatewayId"
			case strings.HasPrefix(r.Target, "eigw-"):
				target = "egressOnlyInternetGatewayId"
			}
			fmt.Fprintf(&b, "<item><%s>%s</%s><%s>%s</%s><state>active</state><origin>CreateRoute</origin></item>", dest, x(r.Destination), dest, target, x(r.Target), target)
		}
		b.WriteString("</routeSet><associationSet>")
		if rt.Main {
			fmt.Fprintf(&b, "<item><routeTableAssociationId>rtbassoc-main-%s</routeTableAssociationId><routeTableId>%s</routeTableId><main>true</main><associationState><state>associated</state></associationState></item>", x(rt.ID), x(rt.ID))
		}
		for _, s := range rt.Subnets {
			fmt.Fprintf(&b, "<item><routeTableAssociationId>rtbassoc-%s</routeTableAssociationId><routeTableId>%s</routeTableId><subnetId>%s</subnetId><main>false</main><associationState><state>associated</state></associationState></item>", x(s), x(rt.ID), x(s))
		}
		b.WriteString("</associationSet></item>")
	}
	b.WriteString("</routeTableSet>")
	return b.String(), nil
}

func (f *Fake) describeSecurityGroups(form url.Values) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := fakeaws.QueryList(form, "GroupId")
	if err := missing(f.groups, ids, "InvalidGroup.NotFound", "security group"); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<securityGroupInfo>")
	for _, sg := range selected(f.groups, ids) {
		fmt.Fprintf(&b, "<item><ownerId>123456789012</ownerId><groupId>%s</groupId><groupName>%s</groupName><groupDescription>fake</groupDescription><vpcId>%s</vpcId>", x(sg.ID), x(sg.Name), x(sg.VpcID))
		writePermissions(&b, "ipPermissions", sg.Ingress)
		writePermissions(&b, "ipPermissionsEgress", sg.Egress)
		b.WriteString("</item>")
	}
	b.WriteString("</securityGroupInfo>")
	return b.String(), nil
}

func writePermissions(b *strings.Builder, elem string, perms []Permission) {
	fmt.Fprintf(b, "<%s>", elem)
	for _, p := range perms {
		fmt.Fprintf(b, "<item><ipProtocol>%s</ipProtocol>", x(p.Protocol))
		if p.Protocol != "-1" {
			fmt.Fprintf(b, "<fromPort>%d</fromPort><toPort>%d</toPort>", p.FromPort, p.ToPort)
		}
		b.WriteString("<groups>")
		for _, g := range p.Groups {
			fmt.Fprintf(b, "<item><userId>123456789012</userId><groupId>%s</groupId></item>", x(g))
		}
		b.WriteString("</groups><ipRanges>")
		for _, c := range p.CIDRs {
			if !strings.Contains(c, ":") {
				fmt.Fprintf(b, "<item><cidrIp>%s</cidrIp></item>", x(c))
			}
		}
		b.WriteString("</ipRanges><ipv6Ranges>")
		for _, c := range p.CIDRs {
			if strings.Contains(c, ":") {
				fmt.Fprintf(b, "<item><cidrIpv6>%s</cidrIpv6></item>", x(c))
			}
		}
		b.WriteString("</ipv6Ranges><prefixListIds>")
		for _, pl := range p.PrefixLists {
			fmt.Fprintf(b, "<item><prefixListId>%s</prefixListId></item>", x(pl))
		}
		b.WriteString("</prefixListIds></item>")
	}
	fmt.Fprintf(b, "</%s>", elem)
}

func x(s string) string { return fakeaws.XMLEscape(s) }
