//! `logs`: the members' container logs, each line prefixed with its member.

use std::io::Write;

use futures_util::StreamExt;

use super::LifecycleError;
use crate::engine::Engine;
use crate::lab::Lab;

/// Print the logs of every member of `lab` (or of `member` only), each line
/// prefixed with the member's name; `follow` keeps streaming.
pub async fn logs(
    engine: &dyn Engine,
    lab: &Lab,
    member: Option<&str>,
    follow: bool,
    tail: Option<usize>,
    out: &mut (dyn Write + Send),
) -> Result<(), LifecycleError> {
    let mut members = lab.members();
    if let Some(m) = member {
        if !members.contains(&m) {
            let hint = crate::suggest::did_you_mean(m, members.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(LifecycleError::NoSuchMember {
                lab: lab.name().to_string(),
                name: m.to_string(),
                hint,
                members: members.join(", "),
            });
        }
        members = vec![m];
    }
    let present = crate::engine::lab_containers(engine, lab.name()).await?;
    if present.is_empty() {
        return Err(LifecycleError::not_up(lab));
    }
    let width = members.iter().map(|m| m.chars().count()).max().unwrap_or(0);
    let mut streams = Vec::new();
    for m in members {
        let container = lab.container_name(m);
        if !present.iter().any(|c| c.name == container) {
            continue;
        }
        let prefix = format!("{m:<width$} | ");
        let s = engine.logs(&container, tail, follow).await?;
        streams.push(s.map(move |l| l.map(|l| format!("{prefix}{l}"))).boxed());
    }
    if follow {
        // Interleave as lines arrive.
        let mut all = futures_util::stream::select_all(streams);
        while let Some(line) = all.next().await {
            writeln!(out, "{}", line?)?;
        }
    } else {
        for mut s in streams {
            while let Some(line) = s.next().await {
                writeln!(out, "{}", line?)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::testkit::*;
    use crate::lifecycle::up;

    #[tokio::test]
    async fn logs_prefix_each_line_with_the_member() {
        let lab = lab_on(free_port());
        let e = healthy_engine(&lab);
        up(e.as_ref(), &lab, &rendered(), &quick()).await.unwrap();
        e.set_logs("nginx-keepalived-nginx_slave", &["a", "b"]);
        e.set_logs("nginx-keepalived-proxy", &["c"]);
        let mut out = Vec::new();
        logs(e.as_ref(), &lab, None, false, None, &mut out)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "nginx_slave  | a\nnginx_slave  | b\nproxy        | c\n"
        );
        let err = logs(
            e.as_ref(),
            &lab,
            Some("nginx_slav"),
            false,
            None,
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("did you mean `nginx_slave`"),
            "{err}"
        );
    }
}
