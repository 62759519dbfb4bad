//! Deploy's read-only network preflight for a policy's `network`: the subnets and security groups
//! exist and fit together (one VPC), and the function can reach the AWS APIs it calls from there
//! (VPC endpoints, or a NAT). `judge` decides from what EC2 described; `preflight` asks EC2.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use aws_sdk_ec2::types::{Filter, VpcEndpointType};

use crate::aws::Aws;
use xtask::paths;

/// How the function reaches one AWS service it calls from inside the VPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// An interface endpoint (PrivateLink) with private DNS, so the SDK's usual hostname
    /// resolves to it.
    Interface,
    /// A gateway endpoint in the route tables of the function's subnets.
    Gateway,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Interface => "interface",
            EndpointKind::Gateway => "gateway",
        }
    }
}

/// An AWS service the enforcer calls, the VPC endpoint that serves it, and what stops working
/// without it.
pub struct Service {
    /// The last part of the endpoint's service name, `com.amazonaws.<region>.<name>`.
    pub name: &'static str,
    pub kind: EndpointKind,
    pub without_it: &'static str,
}

/// What the enforcer calls from its network interfaces. Not here, because the Lambda service
/// does them outside the VPC: decrypting the environment (KMS), shipping the logs (CloudWatch
/// Logs), sending failed invocations to the dead-letter queue (SQS) and the role's credentials
/// (STS).
pub const SERVICES: &[Service] = &[
    Service {
        name: "glue",
        kind: EndpointKind::Interface,
        without_it: "no session can be read, stopped or deleted (GetSession, StopSession)",
    },
    Service {
        name: "sns",
        kind: EndpointKind::Interface,
        without_it: "no notification can be published",
    },
    Service {
        name: "dynamodb",
        kind: EndpointKind::Gateway,
        without_it: "the notification ledger cannot be written, so nothing is notified",
    },
    Service {
        name: "cloudtrail",
        kind: EndpointKind::Interface,
        without_it: "the sweep cannot look up who created a session (LookupEvents)",
    },
];

/// A subnet as EC2 described it.
#[derive(Clone, Debug, PartialEq)]
pub struct SubnetFound {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
}

/// A security group as EC2 described it.
#[derive(Clone, Debug, PartialEq)]
pub struct SecurityGroupFound {
    pub id: String,
    pub vpc_id: String,
}

/// A VPC endpoint as EC2 described it.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointFound {
    pub id: String,
    pub vpc_id: String,
    /// `com.amazonaws.eu-west-1.glue`.
    pub service_name: String,
    /// `None` for kinds the function does not use (Gateway Load Balancer, resource, …).
    pub kind: Option<EndpointKind>,
    pub available: bool,
    pub private_dns: bool,
    /// For a gateway endpoint, the route tables it is in.
    pub route_table_ids: Vec<String>,
}

/// Where a route table sends traffic for the internet (`0.0.0.0/0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultRoute {
    None,
    /// An internet gateway: useless to Lambda, whose network interfaces have no public address.
    InternetGateway,
    /// A NAT gateway, transit gateway, instance, network interface or peering: AWS APIs are
    /// reachable without endpoints (as far as this check can tell).
    Nat,
}

/// A route table as EC2 described it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteTableFound {
    pub id: String,
    pub vpc_id: String,
    /// The VPC's main route table: it serves every subnet without a table of its own.
    pub main: bool,
    /// Subnets explicitly associated with it.
    pub subnet_ids: Vec<String>,
    pub default_route: DefaultRoute,
}

/// Everything the preflight looks at, described by EC2.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Described {
    pub subnets: Vec<SubnetFound>,
    pub security_groups: Vec<SecurityGroupFound>,
    /// The endpoints of the subnets' VPCs.
    pub endpoints: Vec<EndpointFound>,
    /// The route tables of the subnets' VPCs.
    pub route_tables: Vec<RouteTableFound>,
}

/// One finding about a policy field (`network.subnet_ids[1]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// What the preflight concluded: errors would make the deploy fail (CloudFormation would reject
/// the function); warnings leave a guard that deploys but cannot do all of its work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Findings {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// Judges the policy's `network` against what EC2 described in `region`. Pure.
pub fn judge(network: &policy::Network, region: &str, found: &Described) -> Findings {
    let mut findings = Findings::default();
    let subnets: Vec<&SubnetFound> = network
        .subnet_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let subnet = found.subnets.iter().find(|subnet| subnet.id == *id);
            if subnet.is_none() {
                findings.errors.push(Finding {
                    field: format!("network.subnet_ids[{i}]"),
                    reason: format!(
                        "subnet `{id}` does not exist in {region} (or these credentials cannot \
                         see it)"
                    ),
                });
            }
            subnet
        })
        .collect();
    let mut vpcs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for subnet in &subnets {
        vpcs.entry(subnet.vpc_id.as_str())
            .or_default()
            .push(subnet.id.as_str());
    }
    if vpcs.len() > 1 {
        let listed: Vec<String> = vpcs
            .iter()
            .map(|(vpc, ids)| format!("{vpc}: {}", ids.join(", ")))
            .collect();
        findings.errors.push(Finding {
            field: "network.subnet_ids".into(),
            reason: format!(
                "the subnets are in {} VPCs ({}); a Lambda function runs in subnets of one VPC",
                vpcs.len(),
                listed.join("; ")
            ),
        });
    }
    let vpc = (vpcs.len() == 1).then(|| *vpcs.keys().next().expect("one VPC"));
    for (i, id) in network.security_group_ids.iter().enumerate() {
        let field = format!("network.security_group_ids[{i}]");
        match found.security_groups.iter().find(|group| group.id == *id) {
            None => findings.errors.push(Finding {
                field,
                reason: format!(
                    "security group `{id}` does not exist in {region} (or these credentials \
                     cannot see it)"
                ),
            }),
            Some(group) if vpc.is_some_and(|vpc| group.vpc_id != vpc) => {
                findings.errors.push(Finding {
                    field,
                    reason: format!(
                        "security group `{id}` is in {}, the subnets in {}; Lambda takes security \
                         groups of the subnets' VPC",
                        group.vpc_id,
                        vpc.unwrap_or_default()
                    ),
                });
            }
            Some(_) => {}
        }
    }
    if !findings.errors.is_empty() {
        return findings;
    }
    let Some(vpc) = vpc else {
        return findings;
    };

    let zones: BTreeSet<&str> = subnets
        .iter()
        .map(|subnet| subnet.availability_zone.as_str())
        .collect();
    if zones.len() == 1 {
        findings.warnings.push(Finding {
            field: "network.subnet_ids".into(),
            reason: format!(
                "every subnet is in {}: with subnets in two Availability Zones or more, the guard \
                 keeps working when one zone fails",
                zones.iter().next().expect("one zone")
            ),
        });
    }

    // Each subnet's route table: its own, else the VPC's main one.
    let table_of = |subnet: &str| {
        found
            .route_tables
            .iter()
            .find(|table| table.vpc_id == vpc && table.subnet_ids.iter().any(|id| id == subnet))
            .or_else(|| {
                found
                    .route_tables
                    .iter()
                    .find(|table| table.vpc_id == vpc && table.main)
            })
    };
    let mut without_nat: Vec<(&str, Option<&RouteTableFound>)> = Vec::new();
    let mut internet_gateway_only = Vec::new();
    for subnet in &subnets {
        let table = table_of(&subnet.id);
        match table.map(|table| table.default_route) {
            Some(DefaultRoute::Nat) => continue,
            Some(DefaultRoute::InternetGateway) => internet_gateway_only.push(subnet.id.as_str()),
            Some(DefaultRoute::None) | None => {}
        }
        without_nat.push((subnet.id.as_str(), table));
    }
    if !internet_gateway_only.is_empty() {
        findings.warnings.push(Finding {
            field: "network.subnet_ids".into(),
            reason: format!(
                "{} reach the internet only through an internet gateway, which a Lambda function \
                 cannot use (its network interfaces have no public address): use private \
                 subnets with a NAT gateway, or VPC endpoints",
                internet_gateway_only.join(", ")
            ),
        });
    }
    if without_nat.is_empty() {
        return findings;
    }
    let subnet_list = without_nat
        .iter()
        .map(|(id, _)| *id)
        .collect::<Vec<_>>()
        .join(", ");
    for service in SERVICES {
        let service_name = format!("com.amazonaws.{region}.{}", service.name);
        let endpoints: Vec<&EndpointFound> = found
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.vpc_id == vpc && endpoint.service_name == service_name)
            .collect();
        let usable = endpoints
            .iter()
            .copied()
            .find(|endpoint| endpoint.available && endpoint.kind.is_some());
        let reason = match usable {
            None => Some(format!(
                "{vpc} has no available VPC endpoint for {} (`{service_name}`, {}) and {subnet_list} \
                 have no NAT route: {}",
                service.name,
                service.kind.as_str(),
                service.without_it
            )),
            Some(endpoint) => match endpoint.kind {
                Some(EndpointKind::Interface) if !endpoint.private_dns => Some(format!(
                    "the VPC endpoint {} for {} has private DNS turned off, so the function's \
                     calls to {}.{region}.amazonaws.com do not use it: {}",
                    endpoint.id, service.name, service.name, service.without_it
                )),
                Some(EndpointKind::Gateway) => {
                    let missing: Vec<&str> = without_nat
                        .iter()
                        .filter(|(_, table)| {
                            !table.is_some_and(|table| endpoint.route_table_ids.contains(&table.id))
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    (!missing.is_empty()).then(|| {
                        format!(
                            "the gateway endpoint {} for {} is not in the route table of {}: {}",
                            endpoint.id,
                            service.name,
                            missing.join(", "),
                            service.without_it
                        )
                    })
                }
                _ => None,
            },
        };
        if let Some(reason) = reason {
            findings.warnings.push(Finding {
                field: "network".into(),
                reason,
            });
        }
    }
    findings
}

/// EC2, for the preflight. Built here from the shared SDK configuration.
pub fn ec2(aws: &Aws) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&aws.config)
}

/// Describes the policy's subnets and security groups, and the endpoints and route tables of
/// their VPCs. Read-only: Describe calls only.
pub async fn describe(
    ec2: &aws_sdk_ec2::Client,
    network: &policy::Network,
) -> anyhow::Result<Described> {
    let subnets: Vec<SubnetFound> = ec2
        .describe_subnets()
        .filters(filter("subnet-id", &network.subnet_ids))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| describe_failed("DescribeSubnets", &error))?
        .iter()
        .map(|subnet| SubnetFound {
            id: text(subnet.subnet_id()),
            vpc_id: text(subnet.vpc_id()),
            availability_zone: text(subnet.availability_zone()),
        })
        .collect();
    let security_groups = ec2
        .describe_security_groups()
        .filters(filter("group-id", &network.security_group_ids))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| describe_failed("DescribeSecurityGroups", &error))?
        .iter()
        .map(|group| SecurityGroupFound {
            id: text(group.group_id()),
            vpc_id: text(group.vpc_id()),
        })
        .collect();
    let vpcs: Vec<String> = subnets
        .iter()
        .map(|subnet| subnet.vpc_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if vpcs.is_empty() {
        return Ok(Described {
            subnets,
            security_groups,
            ..Described::default()
        });
    }
    // All of the region's endpoints, kept to the VPCs here: not every EC2 implementation filters
    // endpoints by VPC (moto does not).
    let endpoints = ec2
        .describe_vpc_endpoints()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| describe_failed("DescribeVpcEndpoints", &error))?
        .iter()
        .filter(|endpoint| {
            vpcs.iter()
                .any(|vpc| Some(vpc.as_str()) == endpoint.vpc_id())
        })
        .map(|endpoint| EndpointFound {
            id: text(endpoint.vpc_endpoint_id()),
            vpc_id: text(endpoint.vpc_id()),
            service_name: text(endpoint.service_name()),
            kind: endpoint.vpc_endpoint_type().and_then(endpoint_kind),
            // EC2 answers `available` where its model spells `Available`: compared by text.
            available: endpoint
                .state()
                .is_some_and(|state| state.as_str().eq_ignore_ascii_case("available")),
            private_dns: endpoint.private_dns_enabled().unwrap_or(false),
            route_table_ids: endpoint.route_table_ids().to_vec(),
        })
        .collect();
    let route_tables = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", &vpcs))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|error| describe_failed("DescribeRouteTables", &error))?
        .iter()
        .map(|table| RouteTableFound {
            id: text(table.route_table_id()),
            vpc_id: text(table.vpc_id()),
            main: table
                .associations()
                .iter()
                .any(|association| association.main() == Some(true)),
            subnet_ids: table
                .associations()
                .iter()
                .filter_map(|association| association.subnet_id().map(str::to_string))
                .collect(),
            default_route: default_route(table.routes()),
        })
        .collect();
    Ok(Described {
        subnets,
        security_groups,
        endpoints,
        route_tables,
    })
}

/// Deploy's network preflight for the policy in `policy_file`: an error naming the file, the
/// field and the reason when a subnet or security group is missing or they do not fit together;
/// otherwise the warnings to print. When EC2 cannot be asked, that is the one warning.
pub async fn preflight(
    aws: &Aws,
    policy_file: &Path,
    network: &policy::Network,
) -> anyhow::Result<Vec<String>> {
    let shown = paths::shown(policy_file);
    let described = match describe(&ec2(aws), network).await {
        Ok(described) => described,
        Err(error) => {
            return Ok(vec![format!(
                "{shown}: network: could not check the subnets, security groups and VPC \
                 endpoints ({error:#}); CloudFormation will still refuse ones that do not exist"
            )]);
        }
    };
    let findings = judge(network, &aws.region, &described);
    if !findings.errors.is_empty() {
        let lines: Vec<String> = findings
            .errors
            .iter()
            .map(|finding| format!("{shown}: {finding}"))
            .collect();
        anyhow::bail!("{}", lines.join("\n"));
    }
    Ok(findings
        .warnings
        .iter()
        .map(|finding| format!("{shown}: {finding}"))
        .collect())
}

/// EC2's endpoint type, read by its text (EC2 does not always spell values as its model does).
fn endpoint_kind(kind: &VpcEndpointType) -> Option<EndpointKind> {
    [EndpointKind::Interface, EndpointKind::Gateway]
        .into_iter()
        .find(|known| kind.as_str().eq_ignore_ascii_case(known.as_str()))
}

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_string()
}

fn describe_failed(call: &str, error: impl std::error::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "EC2 {call} failed: {}",
        aws_sdk_ec2::error::DisplayErrorContext(error)
    )
}

/// Where `routes` send `0.0.0.0/0`: anything but an internet gateway counts as a way out.
fn default_route(routes: &[aws_sdk_ec2::types::Route]) -> DefaultRoute {
    let Some(route) = routes
        .iter()
        .find(|route| route.destination_cidr_block() == Some("0.0.0.0/0"))
    else {
        return DefaultRoute::None;
    };
    if route.nat_gateway_id().is_some()
        || route.transit_gateway_id().is_some()
        || route.instance_id().is_some()
        || route.network_interface_id().is_some()
        || route.vpc_peering_connection_id().is_some()
    {
        DefaultRoute::Nat
    } else if route
        .gateway_id()
        .is_some_and(|gateway| gateway.starts_with("igw-"))
    {
        DefaultRoute::InternetGateway
    } else {
        DefaultRoute::None
    }
}

#[cfg(test)]
mod tests;
