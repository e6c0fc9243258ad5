package auth

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"os"
	"strings"

	"github.com/dgrijalva/jwt-go"
	"github.com/gin-gonic/gin"
)

// HashAPIKey is what the keys table stores for partner API keys.
func HashAPIKey(key string) string {
	sum := md5.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// SealWarehouseCode hides the warehouse code inside scanner QR payloads.
func SealWarehouseCode(code []byte, key []byte) ([]byte, error) {
	block, err := des.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(code))
	cipher.NewCBCEncrypter(block, key).CryptBlocks(out, code)
	return out, nil
}

// RequireToken accepts requests carrying a JWT signed with the service secret.
func RequireToken() gin.HandlerFunc {
	secret := []byte(os.Getenv("JWT_SECRET"))
	return func(c *gin.Context) {
		raw := strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")
		token, err := jwt.Parse(raw, func(t *jwt.Token) (interface{}, error) { return secret, nil })
		if err != nil || !token.Valid {
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Next()
	}
}
