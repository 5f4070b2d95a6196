//! AWS's shared files, as the AWS CLI and SDKs read them: the credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) and the config file
//! (`AWS_CONFIG_FILE`, else `~/.aws/config`). The profile `AWS_PROFILE` (else `default`)
//! gives the keys, session token, region and endpoint that the environment does not:
//! a variable wins over a file, and a location's option over both.

use std::path::PathBuf;

use ini::Ini;
use object_store::aws::AmazonS3ConfigKey;

use crate::error::{Error, Result};

/// The settings the profile gives that the environment (read with `var`) does not, as
/// the S3 store's keys; none when neither file exists or the default profile is in
/// neither. A profile named by `AWS_PROFILE` must be in one of them.
pub(super) fn settings(var: &dyn Fn(&str) -> Option<String>) -> Result<Vec<(AmazonS3ConfigKey, String)>> {
    let named = var("AWS_PROFILE").filter(|p| !p.is_empty());
    let profile = named.clone().unwrap_or_else(|| "default".to_string());
    let home = var("HOME").map(PathBuf::from);
    let file = |variable: &str, name: &str| {
        var(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    // The credentials file's section is the profile's name; the config file's is
    // `profile NAME`, except `default`.
    let section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    let sources = [
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile.clone()),
        (file("AWS_CONFIG_FILE", "config"), section),
    ];
    let mut found = false;
    let mut values: Vec<(String, String)> = Vec::new();
    for (path, section) in sources {
        let Some(path) = path.filter(|p| p.is_file()) else {
            continue;
        };
        let ini = Ini::load_from_file(&path)
            .map_err(|e| Error::Invalid(format!("Cannot read the AWS file '{}': {e}", path.display())))?;
        let Some(properties) = ini.section(Some(section.as_str())) else {
            continue;
        };
        found = true;
        for (key, value) in properties.iter() {
            if !values.iter().any(|(k, _)| k == key) {
                values.push((key.to_string(), value.to_string()));
            }
        }
    }
    if let Some(name) = named
        && !found
    {
        return Err(Error::Invalid(format!(
            "AWS_PROFILE is '{name}', a profile in neither the AWS credentials file nor the config file"
        )));
    }
    let get = |key: &str| values.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let unset = |names: &[&str]| names.iter().all(|n| var(n).is_none_or(|v| v.is_empty()));
    let mut settings = Vec::new();
    // The keys come as a pair, from the environment or from the profile, never mixed.
    if unset(&["AWS_ACCESS_KEY_ID"])
        && let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key"))
    {
        settings.push((AmazonS3ConfigKey::AccessKeyId, id));
        settings.push((AmazonS3ConfigKey::SecretAccessKey, secret));
        if let Some(token) = get("aws_session_token") {
            settings.push((AmazonS3ConfigKey::Token, token));
        }
    }
    if unset(&["AWS_REGION", "AWS_DEFAULT_REGION"])
        && let Some(region) = get("region")
    {
        settings.push((AmazonS3ConfigKey::Region, region));
    }
    if unset(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"])
        && let Some(endpoint) = get("endpoint_url")
    {
        if endpoint.starts_with("http://") {
            settings.push((
                AmazonS3ConfigKey::Client(object_store::ClientConfigKey::AllowHttp),
                "true".into(),
            ));
        }
        settings.push((AmazonS3ConfigKey::Endpoint, endpoint));
    }
    Ok(settings)
}

/// Whether an S3 store with `options` has no keys to sign with: none in the
/// environment, the options or the profile, and no web identity or container
/// credentials (it may still get an instance's).
pub(super) fn no_keys(options: &[(String, String)]) -> bool {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let from_profile = settings(&var).is_ok_and(|s| s.iter().any(|(k, _)| *k == AmazonS3ConfigKey::AccessKeyId));
    let in_env = [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|n| var(n).is_some());
    let in_options = options.iter().any(|(k, _)| k.ends_with("access_key_id"));
    !(from_profile || in_env || in_options)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The settings with the variables `vars` and the files under a new home.
    fn with(vars: &[(&str, &str)], credentials: Option<&str>, config: Option<&str>) -> Result<Vec<(String, String)>> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let home = std::env::temp_dir().join(format!("hn-aws-{}-{n}", std::process::id()));
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        for (name, text) in [("credentials", credentials), ("config", config)] {
            let path = home.join(".aws").join(name);
            match text {
                Some(text) => std::fs::write(path, text).unwrap(),
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let mut vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.insert("HOME".into(), home.to_string_lossy().into_owned());
        let found = settings(&|name| vars.get(name).cloned());
        std::fs::remove_dir_all(&home).unwrap();
        found.map(|s| s.into_iter().map(|(k, v)| (k.as_ref().to_string(), v)).collect())
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s3cret\n\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=devsecret\naws_session_token=tok\n";
    const CONFIG: &str =
        "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-west-2\nendpoint_url = http://127.0.0.1:9000\n";

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_default_profile_gives_keys_and_region() {
        assert_eq!(
            with(&[], Some(CREDENTIALS), Some(CONFIG)).unwrap(),
            pairs(&[
                ("aws_access_key_id", "AKIDDEFAULT"),
                ("aws_secret_access_key", "s3cret"),
                ("aws_region", "eu-west-1")
            ])
        );
    }

    #[test]
    fn a_named_profile_gives_its_token_and_endpoint() {
        assert_eq!(
            with(&[("AWS_PROFILE", "dev")], Some(CREDENTIALS), Some(CONFIG)).unwrap(),
            pairs(&[
                ("aws_access_key_id", "AKIDDEV"),
                ("aws_secret_access_key", "devsecret"),
                ("aws_session_token", "tok"),
                ("aws_region", "us-west-2"),
                ("allow_http", "true"),
                ("aws_endpoint", "http://127.0.0.1:9000")
            ])
        );
    }

    #[test]
    fn variables_win_over_the_files() {
        let vars = [("AWS_ACCESS_KEY_ID", "AKIDENV"), ("AWS_REGION", "ap-south-1")];
        assert_eq!(with(&vars, Some(CREDENTIALS), Some(CONFIG)).unwrap(), vec![]);
    }

    #[test]
    fn no_files_give_nothing_and_a_missing_named_profile_is_an_error() {
        assert_eq!(with(&[], None, None).unwrap(), vec![]);
        assert_eq!(
            with(&[("AWS_PROFILE", "prod")], Some(CREDENTIALS), Some(CONFIG))
                .unwrap_err()
                .to_string(),
            "AWS_PROFILE is 'prod', a profile in neither the AWS credentials file nor the config file"
        );
    }
}
