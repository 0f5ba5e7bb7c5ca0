#include "api/auth.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "api/kube_api.h"
#include "api/test_client.h"
#include "common/ids.h"

namespace skiff::api {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-auth-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*store::OpenSqliteStore(dir_ + "/skiff.db"));
    tokens_ = std::make_unique<TokenStore>(*store_);
  }
  void TearDown() override {
    server_.reset();
    api_.reset();
    tokens_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Serve() {
    KubeApiOptions o;
    o.store = store_.get();
    o.tokens = tokens_.get();
    api_ = std::make_unique<KubeApi>(o);
    server_ = std::make_unique<HttpServer>(HttpServerOptions{"127.0.0.1", 0, 2},
                                           [this](const HttpRequest& q, HttpResponse& r, HttpExchange& e) {
                                             api_->Handle(q, r, e);
                                           });
    ASSERT_TRUE(server_->Start().ok());
  }
  testing::Response Do(const std::string& method, const std::string& path, const std::string& token,
                       const std::string& body = "") {
    testing::Client c(server_->port());
    std::map<std::string, std::string> h;
    if (!token.empty()) h["Authorization"] = "Bearer " + token;
    return c.Do(method, path, body, "application/json", h);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<KubeApi> api_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(AuthTest, TokensAreStoredOnlyAsHashes) {
  auto token = tokens_->Create("alice", Role::kEdit, {"a"});
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->rfind("skiff_", 0), 0u);
  EXPECT_EQ(token->size(), 6u + 64u);
  auto records = store_->GetRecords("api-tokens", "");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->begin()->first, Sha256Hex(*token));
  EXPECT_EQ(records->begin()->second.dump().find(*token), std::string::npos);
  auto who = tokens_->Authenticate(*token);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->name, "alice");
  EXPECT_EQ(who->role, Role::kEdit);
  EXPECT_FALSE(tokens_->Authenticate(*token + "x").ok());
  EXPECT_EQ(tokens_->Create("alice", Role::kView, {"b"}).status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(tokens_->Delete("alice").ok());
  EXPECT_FALSE(tokens_->Authenticate(*token).ok());
}

TEST_F(AuthTest, NoTokenIs401ExceptHealthAndOtherNamespacesAre403) {
  std::string a = *tokens_->Create("a-editor", Role::kEdit, {"a"});
  std::string viewer = *tokens_->Create("a-viewer", Role::kView, {"a"});
  std::string admin = *tokens_->Create("root", Role::kAdmin, {"*"});
  Serve();
  EXPECT_EQ(Do("GET", "/healthz", "").status, 200);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/a/configmaps", "").status, 401);
  EXPECT_EQ(Do("GET", "/api", "").status, 401);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/a/configmaps", "skiff_wrong").status, 401);
  EXPECT_EQ(Do("GET", "/api", a).status, 200);

  std::string cm = R"({"metadata":{"name":"c"},"data":{"k":"v"}})";
  EXPECT_EQ(Do("POST", "/api/v1/namespaces/a/configmaps", a, cm).status, 201);
  auto forbidden = Do("POST", "/api/v1/namespaces/b/configmaps", a, cm);
  EXPECT_EQ(forbidden.status, 403);
  Json body = *ParseJson(forbidden.body);
  EXPECT_EQ(body["reason"], "Forbidden");
  EXPECT_NE(body["message"].get<std::string>().find("User \"a-editor\" cannot create resource \"configmaps\""),
            std::string::npos);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces/b/configmaps", a).status, 403);
  EXPECT_EQ(Do("GET", "/api/v1/configmaps", a).status, 403);  // across namespaces

  EXPECT_EQ(Do("GET", "/api/v1/namespaces/a/configmaps/c", viewer).status, 200);
  EXPECT_EQ(Do("DELETE", "/api/v1/namespaces/a/configmaps/c", viewer).status, 403);
  EXPECT_EQ(Do("POST", "/api/v1/namespaces", a, R"({"metadata":{"name":"n"}})").status, 403);

  EXPECT_EQ(Do("GET", "/api/v1/configmaps", admin).status, 200);
  EXPECT_EQ(Do("POST", "/api/v1/namespaces", admin, R"({"metadata":{"name":"n"}})").status, 201);
  EXPECT_EQ(Do("DELETE", "/api/v1/namespaces/a/configmaps/c", admin).status, 200);
}

TEST(AuthRulesTest, RolesAndNamespaces) {
  Principal view{"v", Role::kView, {"a"}};
  Principal edit{"e", Role::kEdit, {"a", "b"}};
  Principal admin{"x", Role::kAdmin, {"*"}};
  EXPECT_TRUE(Allowed(view, "watch", true, "a"));
  EXPECT_FALSE(Allowed(view, "patch", true, "a"));
  EXPECT_TRUE(Allowed(edit, "delete", true, "b"));
  EXPECT_FALSE(Allowed(edit, "get", true, "c"));
  EXPECT_FALSE(Allowed(edit, "create", false, ""));
  EXPECT_TRUE(Allowed(edit, "list", false, ""));
  EXPECT_TRUE(Allowed(admin, "deletecollection", true, ""));
  EXPECT_FALSE(ParseRole("root").ok());
}

}  // namespace
}  // namespace skiff::api
