package ec2fake

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"dagger/fargate/pipeline/internal/fakeaws"
)

func setup(t *testing.T) (*Fake, *ec2.Client) {
	srv := fakeaws.New(t)
	f := New(srv)
	f.AddSubnet(Subnet{ID: "subnet-a", VpcID: "vpc-1", CIDR: "10.0.1.0/24"})
	f.AddSubnet(Subnet{ID: "subnet-b", VpcID: "vpc-1", CIDR: "10.0.2.0/24", MapPublicIPOnLaunch: true})
	f.AddRouteTable(RouteTable{ID: "rtb-main", VpcID: "vpc-1", Main: true, Routes: []Route{{Destination: "10.0.0.0/16", Target: "local"}, {Destination: "0.0.0.0/0", Target: "nat-1"}}})
	f.AddRouteTable(RouteTable{ID: "rtb-public", VpcID: "vpc-1", Subnets: []string{"subnet-b"}, Routes: []Route{{Destination: "0.0.0.0/0", Target: "igw-1"}, {Destination: "::/0", Target: "igw-1"}}})
	f.AddSecurityGroup(SecurityGroup{ID: "sg-task", Name: "task", VpcID: "vpc-1", Ingress: []Permission{
		{Protocol: "tcp", FromPort: 8080, ToPort: 8080, Groups: []string{"sg-lb"}},
		{Protocol: "-1", CIDRs: []string{"0.0.0.0/0", "::/0"}, PrefixLists: []string{"pl-1"}},
	}})
	return f, ec2.NewFromConfig(srv.Config(t))
}

func TestDescribeWithTheRealClient(t *testing.T) {
	_, c := setup(t)
	ctx := t.Context()

	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-b"}})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 1)
	require.Equal(t, "vpc-1", aws.ToString(subnets.Subnets[0].VpcId))
	require.True(t, aws.ToBool(subnets.Subnets[0].MapPublicIpOnLaunch))

	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{"subnet-b"}}}})
	require.NoError(t, err)
	require.Len(t, rts.RouteTables, 1)
	rt := rts.RouteTables[0]
	require.Equal(t, "rtb-public", aws.ToString(rt.RouteTableId))
	require.Equal(t, "0.0.0.0/0", aws.ToString(rt.Routes[0].DestinationCidrBlock))
	require.Equal(t, "igw-1", aws.ToString(rt.Routes[0].GatewayId))
	require.Equal(t, "::/0", aws.ToString(rt.Routes[1].DestinationIpv6CidrBlock))
	require.Equal(t, "subnet-b", aws.ToString(rt.Associations[0].SubnetId))

	none, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{"subnet-a"}}}})
	require.NoError(t, err)
	require.Empty(t, none.RouteTables)

	main, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{"vpc-1"}}, {Name: aws.String("association.main"), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.Len(t, main.RouteTables, 1)
	require.True(t, aws.ToBool(main.RouteTables[0].Associations[0].Main))
	require.Equal(t, "nat-1", aws.ToString(main.RouteTables[0].Routes[1].NatGatewayId))

	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-task"}})
	require.NoError(t, err)
	require.Len(t, sgs.SecurityGroups, 1)
	perms := sgs.SecurityGroups[0].IpPermissions
	require.Len(t, perms, 2)
	require.Equal(t, "sg-lb", aws.ToString(perms[0].UserIdGroupPairs[0].GroupId))
	require.Equal(t, int32(8080), aws.ToInt32(perms[0].FromPort))
	require.Equal(t, "-1", aws.ToString(perms[1].IpProtocol))
	require.Equal(t, "0.0.0.0/0", aws.ToString(perms[1].IpRanges[0].CidrIp))
	require.Equal(t, "::/0", aws.ToString(perms[1].Ipv6Ranges[0].CidrIpv6))
	require.Equal(t, "pl-1", aws.ToString(perms[1].PrefixListIds[0].PrefixListId))
}

func TestNotFound(t *testing.T) {
	_, c := setup(t)
	_, err := c.DescribeSecurityGroups(t.Context(), &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-nope"}})
	var apiErr smithy.APIError
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "InvalidGroup.NotFound", apiErr.ErrorCode())
	_, err = c.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-nope"}})
	require.True(t, errors.As(err, &apiErr))
	require.Equal(t, "InvalidSubnetID.NotFound", apiErr.ErrorCode())
}
