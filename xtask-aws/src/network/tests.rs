//! Tests for `network`: `judge` on described networks (pure), and `preflight` against moto.

use super::*;

const REGION: &str = "eu-west-1";

fn network(subnets: &[&str], groups: &[&str]) -> policy::Network {
    policy::Network {
        subnet_ids: subnets.iter().map(|id| id.to_string()).collect(),
        security_group_ids: groups.iter().map(|id| id.to_string()).collect(),
    }
}

fn subnet(id: &str, vpc: &str, zone: &str) -> SubnetFound {
    SubnetFound {
        id: id.into(),
        vpc_id: vpc.into(),
        availability_zone: zone.into(),
    }
}

fn group(id: &str, vpc: &str) -> SecurityGroupFound {
    SecurityGroupFound {
        id: id.into(),
        vpc_id: vpc.into(),
    }
}

fn endpoint(service: &str, kind: EndpointKind) -> EndpointFound {
    EndpointFound {
        id: format!("vpce-{service}"),
        vpc_id: "vpc-1".into(),
        service_name: format!("com.amazonaws.{REGION}.{service}"),
        kind: Some(kind),
        available: true,
        private_dns: kind == EndpointKind::Interface,
        route_table_ids: match kind {
            EndpointKind::Gateway => vec!["rtb-main".into()],
            EndpointKind::Interface => Vec::new(),
        },
    }
}

fn main_table(default_route: DefaultRoute) -> RouteTableFound {
    RouteTableFound {
        id: "rtb-main".into(),
        vpc_id: "vpc-1".into(),
        main: true,
        subnet_ids: Vec::new(),
        default_route,
    }
}

/// Two private subnets in two zones of vpc-1, a security group, and every endpoint the function
/// needs: nothing to say.
fn complete() -> Described {
    Described {
        subnets: vec![
            subnet("subnet-a", "vpc-1", "eu-west-1a"),
            subnet("subnet-b", "vpc-1", "eu-west-1b"),
        ],
        security_groups: vec![group("sg-1", "vpc-1")],
        endpoints: vec![
            endpoint("glue", EndpointKind::Interface),
            endpoint("sns", EndpointKind::Interface),
            endpoint("dynamodb", EndpointKind::Gateway),
            endpoint("cloudtrail", EndpointKind::Interface),
        ],
        route_tables: vec![main_table(DefaultRoute::None)],
    }
}

fn the_network() -> policy::Network {
    network(&["subnet-a", "subnet-b"], &["sg-1"])
}

fn lines(findings: &[Finding]) -> Vec<String> {
    findings.iter().map(ToString::to_string).collect()
}

#[test]
fn a_complete_network_has_nothing_to_say() {
    assert_eq!(
        judge(&the_network(), REGION, &complete()),
        Findings::default()
    );
}

#[test]
fn the_services_are_the_ones_the_function_calls_itself() {
    let names: Vec<&str> = SERVICES.iter().map(|service| service.name).collect();
    assert_eq!(names, ["glue", "sns", "dynamodb", "cloudtrail"]);
    for service in SERVICES {
        let expected = if service.name == "dynamodb" {
            EndpointKind::Gateway
        } else {
            EndpointKind::Interface
        };
        assert_eq!(service.kind, expected, "{}", service.name);
    }
}

#[test]
fn missing_subnets_and_security_groups_are_errors_naming_the_field() {
    let findings = judge(
        &network(&["subnet-a", "subnet-gone"], &["sg-gone", "sg-1"]),
        REGION,
        &complete(),
    );
    assert_eq!(
        lines(&findings.errors),
        [
            "network.subnet_ids[1]: subnet `subnet-gone` does not exist in eu-west-1 (or these \
             credentials cannot see it)",
            "network.security_group_ids[0]: security group `sg-gone` does not exist in eu-west-1 \
             (or these credentials cannot see it)",
        ]
    );
    assert!(findings.warnings.is_empty(), "{findings:?}");
}

#[test]
fn subnets_and_security_groups_must_share_one_vpc() {
    let mut found = complete();
    found
        .subnets
        .push(subnet("subnet-c", "vpc-2", "eu-west-1c"));
    let findings = judge(
        &network(&["subnet-a", "subnet-b", "subnet-c"], &["sg-1"]),
        REGION,
        &found,
    );
    assert_eq!(
        lines(&findings.errors),
        [
            "network.subnet_ids: the subnets are in 2 VPCs (vpc-1: subnet-a, subnet-b; vpc-2: \
          subnet-c); a Lambda function runs in subnets of one VPC"
        ]
    );

    let mut found = complete();
    found.security_groups.push(group("sg-2", "vpc-2"));
    let findings = judge(&network(&["subnet-a"], &["sg-1", "sg-2"]), REGION, &found);
    assert_eq!(
        lines(&findings.errors),
        [
            "network.security_group_ids[1]: security group `sg-2` is in vpc-2, the subnets in \
          vpc-1; Lambda takes security groups of the subnets' VPC"
        ]
    );
}

#[test]
fn subnets_in_one_zone_are_a_warning() {
    let findings = judge(&network(&["subnet-a"], &["sg-1"]), REGION, &complete());
    assert!(findings.errors.is_empty());
    assert_eq!(
        lines(&findings.warnings),
        [
            "network.subnet_ids: every subnet is in eu-west-1a: with subnets in two Availability \
          Zones or more, the guard keeps working when one zone fails"
        ]
    );
}

#[test]
fn each_missing_or_unusable_endpoint_is_a_warning_saying_what_fails() {
    let mut found = complete();
    found
        .endpoints
        .retain(|endpoint| endpoint.service_name != "com.amazonaws.eu-west-1.cloudtrail");
    found.endpoints[1].private_dns = false; // sns
    // glue: only one that is still being created.
    found.endpoints[0].available = false;
    // subnet-b has a route table of its own, without the DynamoDB gateway endpoint.
    found.route_tables.push(RouteTableFound {
        id: "rtb-b".into(),
        vpc_id: "vpc-1".into(),
        main: false,
        subnet_ids: vec!["subnet-b".into()],
        default_route: DefaultRoute::None,
    });
    let findings = judge(&the_network(), REGION, &found);
    assert!(findings.errors.is_empty());
    assert_eq!(
        lines(&findings.warnings),
        [
            "network: vpc-1 has no available VPC endpoint for glue \
             (`com.amazonaws.eu-west-1.glue`, interface) and subnet-a, subnet-b have no NAT \
             route: no session can be read, stopped or deleted (GetSession, StopSession)",
            "network: the VPC endpoint vpce-sns for sns has private DNS turned off, so the \
             function's calls to sns.eu-west-1.amazonaws.com do not use it: no notification can \
             be published",
            "network: the gateway endpoint vpce-dynamodb for dynamodb is not in the route table \
             of subnet-b: the notification ledger cannot be written, so nothing is notified",
            "network: vpc-1 has no available VPC endpoint for cloudtrail \
             (`com.amazonaws.eu-west-1.cloudtrail`, interface) and subnet-a, subnet-b have no NAT \
             route: the sweep cannot look up who created a session (LookupEvents)",
        ]
    );
}

#[test]
fn endpoints_of_another_vpc_or_region_do_not_count() {
    let mut found = complete();
    found.endpoints[0].vpc_id = "vpc-2".into();
    found.endpoints[1].service_name = "com.amazonaws.us-east-1.sns".into();
    let reasons: Vec<String> = judge(&the_network(), REGION, &found)
        .warnings
        .into_iter()
        .map(|finding| finding.reason)
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:#?}");
    assert!(reasons[0].contains("endpoint for glue"), "{}", reasons[0]);
    assert!(reasons[1].contains("endpoint for sns"), "{}", reasons[1]);
}

#[test]
fn subnets_behind_a_nat_need_no_endpoints() {
    let found = Described {
        endpoints: Vec::new(),
        route_tables: vec![main_table(DefaultRoute::Nat)],
        ..complete()
    };
    assert_eq!(judge(&the_network(), REGION, &found), Findings::default());

    // One subnet behind a NAT, the other not: the warnings name only the other.
    let mut found = found;
    found.route_tables.push(RouteTableFound {
        id: "rtb-b".into(),
        vpc_id: "vpc-1".into(),
        main: false,
        subnet_ids: vec!["subnet-b".into()],
        default_route: DefaultRoute::None,
    });
    let warnings = judge(&the_network(), REGION, &found).warnings;
    assert_eq!(warnings.len(), SERVICES.len());
    assert!(
        warnings
            .iter()
            .all(|finding| finding.reason.contains(" and subnet-b have no NAT route")),
        "{warnings:#?}"
    );
}

#[test]
fn an_internet_gateway_is_no_way_out_for_lambda() {
    let found = Described {
        endpoints: Vec::new(),
        route_tables: vec![main_table(DefaultRoute::InternetGateway)],
        ..complete()
    };
    let warnings = lines(&judge(&the_network(), REGION, &found).warnings);
    assert_eq!(warnings.len(), 1 + SERVICES.len(), "{warnings:#?}");
    assert_eq!(
        warnings[0],
        "network.subnet_ids: subnet-a, subnet-b reach the internet only through an internet \
         gateway, which a Lambda function cannot use (its network interfaces have no public \
         address): use private subnets with a NAT gateway, or VPC endpoints"
    );
}

#[test]
fn routes_to_a_nat_or_an_internet_gateway_are_told_apart() {
    use aws_sdk_ec2::types::Route;
    let to = |route: Route| default_route(&[route]);
    let default = || Route::builder().destination_cidr_block("0.0.0.0/0");
    assert_eq!(
        to(default().nat_gateway_id("nat-1").build()),
        DefaultRoute::Nat
    );
    assert_eq!(
        to(default().transit_gateway_id("tgw-1").build()),
        DefaultRoute::Nat
    );
    assert_eq!(
        to(default().gateway_id("igw-1").build()),
        DefaultRoute::InternetGateway
    );
    assert_eq!(
        to(Route::builder()
            .destination_cidr_block("10.0.0.0/16")
            .gateway_id("local")
            .build()),
        DefaultRoute::None
    );
    assert_eq!(default_route(&[]), DefaultRoute::None);
}

// ---------------------------------------------------------------------------------------------
// Against moto: the Describe calls and their pagination, end to end.

/// An SDK configuration for the emulator, with static credentials (no process environment).
async fn emulator(endpoint: &str) -> Aws {
    use aws_config::{BehaviorVersion, Region};
    use aws_smithy_http_client::tls;
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    Aws {
        config,
        region: REGION.into(),
        endpoint_url: Some(endpoint.into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_against_moto_finds_the_missing_endpoint_the_nat_and_the_missing_subnet() {
    let moto = xtask::tools::Moto::start().unwrap();
    let aws = emulator(&moto.endpoint).await;
    let ec2 = ec2(&aws);

    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let mut subnets = Vec::new();
    for (cidr, zone) in [
        ("10.20.1.0/24", "eu-west-1a"),
        ("10.20.2.0/24", "eu-west-1b"),
    ] {
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .unwrap()
            .subnet
            .unwrap();
        subnets.push(subnet.subnet_id.unwrap());
    }
    let group = ec2
        .create_security_group()
        .group_name("gsg-enforcer")
        .description("Glue Session Guard enforcer")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    let main_table = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", std::slice::from_ref(&vpc)))
        .filters(filter("association.main", &["true".to_string()]))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_string();
    // Everything but CloudTrail.
    for service in ["glue", "sns"] {
        ec2.create_vpc_endpoint()
            .vpc_id(&vpc)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(format!("com.amazonaws.{REGION}.{service}"))
            .set_subnet_ids(Some(subnets.clone()))
            .security_group_ids(&group)
            .private_dns_enabled(true)
            .send()
            .await
            .unwrap();
    }
    ec2.create_vpc_endpoint()
        .vpc_id(&vpc)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name(format!("com.amazonaws.{REGION}.dynamodb"))
        .route_table_ids(&main_table)
        .send()
        .await
        .unwrap();

    let policy_file = Path::new("policies/vpc.yaml");
    let chosen = policy::Network {
        subnet_ids: subnets.clone(),
        security_group_ids: vec![group.clone()],
    };
    let described = describe(&ec2, &chosen).await.unwrap();
    assert_eq!(described.subnets.len(), 2);
    assert!(described.subnets.iter().all(|subnet| subnet.vpc_id == vpc));
    assert_eq!(described.security_groups, [self::group(&group, &vpc)]);
    assert_eq!(described.endpoints.len(), 3, "{:#?}", described.endpoints);
    let warnings = preflight(&aws, policy_file, &chosen).await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].starts_with(&format!(
            "policies/vpc.yaml: network: {vpc} has no available VPC endpoint for cloudtrail"
        )),
        "{}",
        warnings[0]
    );

    // A NAT gateway route from the subnets: the endpoints are no longer needed.
    let allocation = ec2
        .allocate_address()
        .domain(aws_sdk_ec2::types::DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&subnets[0])
        .allocation_id(allocation)
        .send()
        .await
        .unwrap()
        .nat_gateway
        .unwrap()
        .nat_gateway_id
        .unwrap();
    ec2.create_route()
        .route_table_id(&main_table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(nat)
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight(&aws, policy_file, &chosen).await.unwrap(),
        Vec::<String>::new()
    );

    let gone = policy::Network {
        subnet_ids: vec![subnets[0].clone(), "subnet-0123456789abcdef0".into()],
        security_group_ids: vec![group],
    };
    let error = preflight(&aws, policy_file, &gone).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "policies/vpc.yaml: network.subnet_ids[1]: subnet `subnet-0123456789abcdef0` does not \
         exist in eu-west-1 (or these credentials cannot see it)"
    );
}
